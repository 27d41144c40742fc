# Causeway: `make run` serves the product with the example incidents loaded;
# `make test` runs every test against a real PostgreSQL with pgvector.
SHELL := /bin/bash
GO ?= go
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/causeway?sslmode=disable
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
ADDR ?= :8080
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN := bin/causeway

export DATABASE_URL TEST_DATABASE_URL

.PHONY: run test build setup-db setup-prometheus setup-browser lint bench fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/causeway

setup-db:
	./scripts/setup-db

# A real Prometheus server for the collector's tests (the package only; no daemon).
setup-prometheus:
	./scripts/setup-prometheus

# Debian's chromium and playwright-core for the web UI's browser tests.
setup-browser:
	./scripts/setup-browser

run: setup-db build
	$(BIN) migrate
	$(BIN) demo
	$(BIN) serve --addr $(ADDR)

test: setup-db setup-prometheus setup-browser lint
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Scale benchmarks generate CAUSEWAY_BENCH_LINES lines (0 skips them).
CAUSEWAY_BENCH_LINES ?= 2000000
export CAUSEWAY_BENCH_LINES

bench: setup-db
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

fuzz:
	for f in FuzzLogTime FuzzJSONLine FuzzFormats; do $(GO) test -run "^$$" -fuzz "^$$f$$" -fuzztime 20s ./collectors/files || exit 1; done
	$(GO) test -run "^$$" -fuzz "^FuzzRedact$$" -fuzztime 20s ./chunking

clean:
	rm -rf bin
