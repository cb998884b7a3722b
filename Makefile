# splitbrain: make run (the chaos run against the reference implementation), make test (what CI runs).
GO      ?= go
BIN     := bin/splitbrain
GOFLAGS ?=

.PHONY: all build run test vet unit specs chaos chaos-long bench clean conformance

all: build

build:
	$(GO) build -o $(BIN) ./cmd/splitbrain

# The main job: splitbrain run with defaults against the reference peer.
run: build
	$(BIN) run $(ARGS)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }

# Everything CI runs: vet, unit tests, the behaviour specs with real processes, the
# exploration at CI size (make chaos) and the Go example module (make examples).
test: vet
	$(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -v '/chaos$$' | grep -v '/specs/chaos$$')
	$(MAKE) chaos
	$(MAKE) examples

# The conformance suite, as users' pipelines run it (ci/), at CI size: the reference peer must
# pass (exit 0) and the probe-unlink canary must be caught (exit 1). About a minute on 2 cores.
# (make test covers the same entry points through specs/conformance.)
CONFORMANCE_OUT ?= bin/conformance
conformance: build
	rm -rf $(CONFORMANCE_OUT)
	$(BIN) conformance --size quick --quiet --impl '$(abspath $(BIN)) peer' --out $(CONFORMANCE_OUT)/reference
	@st=0; $(BIN) conformance --size quick --quiet --impl '$(abspath $(BIN)) peer --impl probe-unlink' --out $(CONFORMANCE_OUT)/probe-unlink || st=$$?; \
	  if [ $$st -ne 1 ]; then echo "make conformance: the probe-unlink canary exited $$st, want 1 (caught)"; exit 1; fi; \
	  echo "make conformance: the probe-unlink canary was caught (exit 1), as it must be"

# The exploration at CI size (part of make test): every canary found and shrunk, the reference
# explored on unix and tcp with no violation.
chaos:
	@mkdir -p bin
	$(GO) test -count=1 -timeout 20m ./chaos/
	$(GO) test -count=1 -timeout 20m ./specs/chaos/ -args -ginkgo.junit-report=$(abspath bin/junit-chaos.xml)

# The nightly exploration: the reference peer for CHAOS_BUDGET on each transport; any
# counterexample is left in bin/chaos-long-*/ with its schedule and story.
CHAOS_BUDGET ?= 15m
chaos-long: build
	$(BIN) explore --budget $(CHAOS_BUDGET) --out bin/chaos-long-unix
	$(BIN) explore --budget $(CHAOS_BUDGET) --transport tcp --out bin/chaos-long-tcp

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /specs/)

specs:
	$(GO) test -count=1 -timeout 15m ./specs/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 20m ./election/ ./harness/...

clean:
	rm -rf bin

# --- Users' side: adapters, the GitHub Action, installation, releases ---

.PHONY: adapters examples install-check release

# The Go example module (examples/gotest, its own go.mod with a replace of this checkout): a
# user's Ginkgo suite and plain test on package sbtest, with Go functions as peers. About 30 s
# on 2 cores; part of make test.
examples:
	cd examples/gotest && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...

# The peer adapters (examples/adapters: Node.js and Python example peers under the harness,
# and their --broken variants caught) and the GitHub Action's steps (action.yml, ci/action) on
# real conformance runs. About a minute on 2 cores; part of make test too.
adapters:
	$(GO) test -count=1 -timeout 10m ./specs/adapters/

# `go install github.com/splitbrain-dev/splitbrain/cmd/splitbrain@VERSION` from a clean
# module cache, through a local file:// proxy holding HEAD (committed files); offline after
# `go mod download` (ONLINE=1 verifies dependencies with the checksum database instead).
install-check:
	ci/install-check.sh

# Static release binaries: bin/release/splitbrain-VERSION-linux-{amd64,arm64} and SHA256SUMS.
# make release VERSION=v1.2.3 (default: git describe). The host's binary must print VERSION.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
RELEASE_DIR ?= bin/release
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
release:
	rm -rf $(RELEASE_DIR)
	mkdir -p $(RELEASE_DIR)
	@set -e; for p in $(RELEASE_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=$(RELEASE_DIR)/splitbrain-$(VERSION)-$$os-$$arch; \
	  echo "$$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $$out ./cmd/splitbrain; \
	done
	cd $(RELEASE_DIR) && sha256sum splitbrain-$(VERSION)-* > SHA256SUMS
	@host=$(RELEASE_DIR)/splitbrain-$(VERSION)-$$($(GO) env GOOS)-$$($(GO) env GOARCH); \
	  if [ -x "$$host" ]; then \
	    v=$$("$$host" version); echo "$$v"; \
	    case "$$v" in *" $(VERSION) "*) ;; *) echo "make release: $$host version printed \"$$v\", want $(VERSION)"; exit 1;; esac; \
	  fi
