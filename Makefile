# rpmforge — see README.md. Every target works on a fresh Debian 12 / Ubuntu machine with Go 1.26.
GO      ?= go
BIN     := bin/rpmforge
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test test-short demo bench lint fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/rpmforge

# The whole suite, end-to-end tests with the real rpm/dnf included (they
# skip with a message when a client is missing; .ci/run installs them all).
test:
	$(GO) test -count=1 -timeout 80m ./...

test-short:
	$(GO) test -short -count=1 ./...

# Installs what it needs, builds the bundled example app and packages it.
demo:
	./scripts/demo.sh

bench:
	./scripts/bench.sh

FUZZTIME ?= 60s
FUZZ_TARGETS := \
	./pkg/config:FuzzParse \
	./pkg/repo:FuzzReadPackage \
	./pkg/repo:FuzzParseRepomd \
	./pkg/repo:FuzzUnmarshalState \
	./pkg/repo:FuzzUnmarshalChunk \
	./pkg/repo:FuzzPackageIDs \
	./pkg/sign:FuzzVerify \
	./pkg/rpmhdr:FuzzParse \
	./pkg/inventory/rpmdir:FuzzReadPackage \
	./pkg/inventory:FuzzParseDump

# Runs every fuzz target for FUZZTIME each (go test -fuzz takes one target
# at a time), e.g. make fuzz FUZZTIME=5m. A failure stops with the crasher
# written to the package's testdata/fuzz/FuzzX/: commit it with the fix, it
# is then a regression input of 'make test'.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $${t%%:*} $${t##*:} for $(FUZZTIME)"; \
		$(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin dist examples/mysite/dist
