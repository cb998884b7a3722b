# splitbrain: make run (the chaos run against the reference implementation), make test (what CI runs).
GO      ?= go
BIN     := bin/splitbrain
GOFLAGS ?=

.PHONY: all build run test vet unit specs chaos chaos-long bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/splitbrain

# The main job: splitbrain run with defaults against the reference peer.
run: build
	$(BIN) run $(ARGS)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }

# Everything CI runs: vet, unit tests, and the behaviour specs with real processes.
test: vet
	$(GO) test -count=1 -timeout 15m ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /specs/)

specs:
	$(GO) test -count=1 -timeout 15m ./specs/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 20m ./election/ ./harness/...

clean:
	rm -rf bin
