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

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin dist examples/mysite/dist
