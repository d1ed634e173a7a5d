# chatwindow: the two commands a person needs are `make run` and `make test`.

GO ?= go
BIN := bin/chatwindow
AGENTSDK := tests/agentsdk
AGENTSDK14 := tests/agentsdk14
WSCAT := tests/wscat
AXE := tests/axe
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run build test e2e reliability screenshots generate lint check arrows bench load fuzz htmx clean

## run: build and start chatwindow on the embedded messaging service
run: build
	exec ./$(BIN)

build:
	$(GO) build -o $(BIN) ./cmd/chatwindow

## test: everything, with the race detector, including the real Node.js agent SDK bot
test: $(AGENTSDK)/node_modules/.installed $(AGENTSDK14)/node_modules/.installed $(WSCAT)/node_modules/.installed $(AXE)/node_modules/.installed
	$(GO) test -race -count=1 ./...

## e2e: only the tests with real independent peers: Chromium, the Node.js agent SDK and wscat
e2e: $(AGENTSDK)/node_modules/.installed $(AGENTSDK14)/node_modules/.installed $(WSCAT)/node_modules/.installed $(AXE)/node_modules/.installed
	E2E_REQUIRED=1 $(GO) test -race -count=1 -run 'Browser|SDK|Tutorial' ./cmd/... ./tests/...

$(AGENTSDK)/node_modules/.installed: $(AGENTSDK)/package.json $(AGENTSDK)/package-lock.json
	cd $(AGENTSDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# the head of node-agent-sdk's repository (1.4.11), packed in vendor/: the same bot runs on it
$(AGENTSDK14)/node_modules/.installed: $(AGENTSDK14)/package.json $(AGENTSDK14)/package-lock.json $(AGENTSDK14)/vendor/node-agent-sdk-1.4.11.tgz
	cd $(AGENTSDK14) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# wscat, the shell tool of LivePerson's tutorials, typed into by tests/wscat
$(WSCAT)/node_modules/.installed: $(WSCAT)/package.json $(WSCAT)/package-lock.json
	cd $(WSCAT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# axe-core, injected into the page by the browser accessibility scan
$(AXE)/node_modules/.installed: $(AXE)/package.json $(AXE)/package-lock.json
	cd $(AXE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## reliability: docs/reliability.md at full length: the bad-input tests and the
## fault run with 1,000 upstream cuts (`make test` runs it with 60); a few minutes
reliability:
	$(GO) test -race -count=1 -run 'BadInput|UpstreamGarbage|HugeHistory' ./web ./internal/relay
	CHATWINDOW_CUTS=1000 $(GO) test -race -count=1 -timeout 30m -run '^TestFaults$$' -v ./cmd/chatwindow

## screenshots: a scripted conversation in Chromium; a PNG of every receipt state on
## both sides and an index page in screenshots/ (docs/qa.md). Installs Chromium when
## it is missing and apt-get can (as root), like .ci/run.
screenshots:
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } || \
	  { echo "make screenshots needs Chromium at /usr/bin/chromium: apt-get install -y --no-install-recommends chromium"; exit 1; }
	CHATWINDOW_SCREENSHOTS=$(CURDIR)/screenshots E2E_REQUIRED=1 $(GO) test -count=1 -run '^TestScreenshots$$' ./cmd/chatwindow
	@echo "screenshots: open $(CURDIR)/screenshots/index.html"

## generate: regenerate the templ components (their *_templ.go are committed)
generate:
	$(GO) tool templ generate -path views

## lint: gofmt, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## check: generated code current, lint, and the package arrows
check: lint arrows
	$(GO) tool templ generate -check -path views
	$(GO) tool templ fmt -fail views
	$(GO) mod tidy -diff

arrows:
	./.ci/arrows

## bench: the benchmarks and a short load run (cmd/chatload, with the floor beside the window), printed as one table
## (measure, never assert); about 2 minutes
bench: build
	@mkdir -p bin
	$(GO) test -run '^$$' -bench . -benchmem ./... > bin/bench.txt || { cat bin/bench.txt; exit 1; }
	$(GO) run ./cmd/chatload -short -floor -bin $(BIN) -bench bin/bench.txt -json bin/bench.json

## load: docs/performance.md's full run: 10,000 sessions over two window processes
## (a process may open 20,000 files here; one window needs ulimit -n of 21,000), ~80 s
load: build
	$(GO) run ./cmd/chatload -bin $(BIN) -sessions 10000 -windows 2 -json bin/load.json

## fuzz: a short run of every fuzz target. Counted in executions, not seconds: Go 1.26's
## coordinator can fail a -fuzztime run with "context deadline exceeded" when the deadline
## falls while a worker is busy (fixed in Go 1.27); a count has no deadline to race.
## Minimizing a new input is capped so that a slow one cannot stall the run.
FUZZ = $(GO) test -run '^$$' -fuzzminimizetime 2s
fuzz:
	$(FUZZ) -fuzz '^FuzzParseFrame$$' -fuzztime 200000x ./internal/protocol
	$(FUZZ) -fuzz '^FuzzBrowserFrame$$' -fuzztime 50000x ./web/window
	$(FUZZ) -fuzz '^FuzzReportFastPath$$' -fuzztime 100000x ./web/window
	$(FUZZ) -fuzz '^FuzzUpstreamNotification$$' -fuzztime 50000x ./internal/relay
	$(FUZZ) -fuzz '^FuzzDecodeBody$$' -fuzztime 50000x ./internal/protocol
	$(FUZZ) -fuzz '^FuzzFastDecode$$' -fuzztime 50000x ./internal/protocol
	$(FUZZ) -fuzz '^FuzzFastEncode$$' -fuzztime 30000x ./internal/protocol
	$(FUZZ) -fuzz '^FuzzParse$$' -fuzztime 100000x ./internal/richcontent
	$(FUZZ) -fuzz '^FuzzTracker$$' -fuzztime 50000x ./internal/receipts
	$(FUZZ) -fuzz '^FuzzSplit$$' -fuzztime 100000x ./internal/links
	$(FUZZ) -fuzz '^FuzzAppendMessageItem$$' -fuzztime 100000x ./views

## htmx: refresh the vendored htmx (pinned; checked against these sha256)
HTMX_VERSION := 2.0.11
HTMX_WS_VERSION := 2.0.4
HTMX_SHA256 := d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717
HTMX_WS_SHA256 := 896afc2936ded7a56373edf16ce75b0fe9bf49c03d1f55aee9baa94cb87c8d3e
htmx:
	rm -rf tmp/htmx && mkdir -p tmp/htmx
	cd tmp/htmx && npm pack --silent htmx.org@$(HTMX_VERSION) htmx-ext-ws@$(HTMX_WS_VERSION) && \
	  tar xzf htmx.org-$(HTMX_VERSION).tgz package/dist/htmx.min.js && mv package/dist/htmx.min.js htmx.min.js && \
	  tar xzf htmx-ext-ws-$(HTMX_WS_VERSION).tgz package/dist/ws.min.js && mv package/dist/ws.min.js ws.min.js
	echo "$(HTMX_SHA256)  tmp/htmx/htmx.min.js" | sha256sum -c
	echo "$(HTMX_WS_SHA256)  tmp/htmx/ws.min.js" | sha256sum -c
	cp tmp/htmx/htmx.min.js static/vendor/htmx-$(HTMX_VERSION).min.js
	cp tmp/htmx/ws.min.js static/vendor/htmx-ext-ws-$(HTMX_WS_VERSION).min.js

clean:
	rm -rf bin $(AGENTSDK)/node_modules $(AGENTSDK14)/node_modules $(WSCAT)/node_modules $(AXE)/node_modules
