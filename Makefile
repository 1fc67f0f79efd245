# Each habit has one name. `make test` is what CI runs (via .ci/run).
GO       ?= go
# The release this tree is or prepares (CHANGELOG.md's newest heading; the
# tag is v$(VERSION)).
VERSION  ?= $(shell cat VERSION)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
PKG       = github.com/prometheus/common/version
LDFLAGS   = -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) \
            -X $(PKG).BuildUser=$(shell id -un)@$(shell hostname) -X $(PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: build test unit e2e lint bench bench-postfix-corpus bench-postfix fuzz fuzz-postfix run screenshot dashboards demo release clean

build: ## the static binary in ./mailscope
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o mailscope ./cmd/mailscope

test: ## everything CI runs: installs, lint, race tests, end-to-end
	./scripts/test.sh

unit: ## package tests under the race detector, no real services
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e /test/e2e -e /test/lint)

e2e: ## end-to-end tests against real Prometheus, Postfix, rbldnsd ...
	$(GO) test -count=1 -timeout 20m ./test/e2e/...

lint: ## gofmt, go vet, staticcheck and the module's source-text checks (test/lint)
	gofmt -l $$(git ls-files '*.go') | (! grep .)
	$(GO) vet ./...
	staticcheck ./...
	$(GO) test -count=1 ./test/lint/...

bench: ## benchmarks; record results in docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: pgo
pgo: ## take cmd/mailscope/default.pgo again, the profile go build optimises the agent with (docs/development.md)
	./bench/pgo-profile.sh

.PHONY: bench-dnsbl
bench-dnsbl: ## the blocklist sweep against a real rbldnsd on loopback (docs/benchmarks.md)
	GO=$(GO) ./bench/dnsbl-rbldnsd.sh

.PHONY: bench-reports fuzz-reports
bench-reports: ## mailscope report on 10,000 gzip aggregate reports, one core (docs/benchmarks.md)
	GO=$(GO) ./bench/reports.sh

fuzz-reports: ## one minute each for the report parser's fuzz targets (CI runs their seeds only)
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./collectors/reports/parse/
	$(GO) test -run '^$$' -fuzz FuzzXMLScanner -fuzztime 60s ./collectors/reports/parse/

fuzz: ## one minute per fuzz target (CI runs their seeds as normal tests)
	$(GO) test -run '^$$' -fuzz FuzzSplit -fuzztime 60s ./internal/tail/
	$(GO) test -run '^$$' -fuzz FuzzCheckpointLoad -fuzztime 60s ./internal/tail/
	$(GO) test -run '^$$' -fuzz FuzzConfigLoad -fuzztime 60s ./cmd/mailscope/

fuzz-postfix: ## one minute each for the Postfix parser and correlator fuzz targets (CI runs their seeds only)
	$(GO) test -run '^$$' -fuzz FuzzParseLine -fuzztime 60s ./collectors/mtalog/postfix/
	$(GO) test -run '^$$' -fuzz FuzzCorrelator -fuzztime 60s ./collectors/mtalog/correlate/

bench-postfix-corpus: ## real Postfix corpus (as root), cross-checked against pflogsumm, awk and mailscope replay
	./bench/postfix-corpus.sh

bench-postfix: ## mailscope vs a plain read, mtail and postfix_exporter on a multi-million-line corpus; see docs/benchmarks.md
	./bench/postfix-compare.sh

run: ## the agent with the zero-config default
	$(GO) run ./cmd/mailscope

screenshot: build ## headless Chromium screenshot of the status page (needs chromium)
	./scripts/screenshot.sh

demo: ## the whole stack on loopback with generated traffic, until Ctrl-C (as root)
	./scripts/demo.sh

dashboards: ## regenerate dashboards/*.json from dashboards/*.go
	$(GO) run ./dashboards/gen

release: ## dist/: tarballs (linux amd64, arm64), .deb packages, OCI image, SHA-256 sums
	VERSION=$(VERSION) ./scripts/release.sh

clean:
	rm -rf mailscope *.prof dist
