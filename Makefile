# auditwarden: every target works on a fresh machine with only Go installed.
GO      ?= go
PKGS    ?= ./...
FUZZTIME ?= 5000x

.PHONY: build test test-short lint fuzz fuzz-long demo bench localcloud clean

build:
	$(GO) build $(PKGS)
	$(GO) build -o target/localcloud ./scripts/localcloud

# What CI runs: vet + gofmt, the race-enabled test suite, then a short pass of every fuzz target.
test: lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

test-short:
	$(GO) test -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Runs each fuzz target for FUZZTIME executions (make fuzz-long for a deeper run).
fuzz:
	@bash scripts/fuzz.sh $(FUZZTIME)

fuzz-long:
	@bash scripts/fuzz.sh 1000000x

# Starts localcloud with a seeded directory and prints its endpoints (Ctrl-C to stop).
localcloud:
	$(GO) run ./scripts/localcloud -members 50 -folders 6 -pending 3 -history-days 90

demo:
	$(GO) run ./scripts/demo

bench:
	$(GO) run ./scripts/bench

clean:
	rm -rf target
