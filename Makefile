# chatwindow: the two commands a person needs are `make run` and `make test`.

GO ?= go
BIN := bin/chatwindow
AGENTSDK := tests/agentsdk
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run build test e2e generate lint check arrows bench fuzz clean

## run: build and start chatwindow on the embedded messaging service
run: build
	exec ./$(BIN)

build:
	$(GO) build -o $(BIN) ./cmd/chatwindow

## test: everything, with the race detector, including the real Node.js agent SDK bot
test: $(AGENTSDK)/node_modules/.installed
	$(GO) test -race -count=1 ./...

## e2e: only the tests that run real independent peers (the Node.js agent SDK)
e2e: $(AGENTSDK)/node_modules/.installed
	E2E_REQUIRED=1 $(GO) test -race -count=1 ./tests/...

$(AGENTSDK)/node_modules/.installed: $(AGENTSDK)/package.json $(AGENTSDK)/package-lock.json
	cd $(AGENTSDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## generate: regenerate generated code (templ components once views exist)
generate:
	$(GO) generate ./...

## lint: gofmt, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## check: generated code current, lint, and the package arrows
check: lint arrows
	$(GO) mod tidy -diff

arrows:
	./.ci/arrows

## bench: benchmarks (measure, never assert)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseFrame$$' -fuzztime 20s ./internal/protocol

clean:
	rm -rf bin $(AGENTSDK)/node_modules
