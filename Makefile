# The project's verbs. The README uses the same ones.
#   make build   static binary in bin/
#   make test    everything CI runs: lint, unit/integration tests, bounded fuzzing, lab e2e
#   make fuzz    the config, ipvsadm-import and exposition fuzzers, FUZZTIME each (default 30s)
#   make unit    go test -race ./... only (fast, no VM)
#   make lint    gofmt, go vet, staticcheck
#   make bench   benchmarks (numbers go to BENCHMARKS.md)
#   make bench-lab  peer benchmarks in the qemu lab: against node_exporter and keepalived (not in make test)
#   make soak    one hour of the binary at 1,000 real servers, 10% flapping (not in make test)
#   make e2e     scenario tests against real kernel IPVS in the qemu lab
#   make demo    the lab with traffic and lvs-sidecar, metrics on the host
#   make dashboards  regenerate the Grafana dashboards in dashboards/ from Go
#   make alerts  promtool check and unit tests of alerts/, lint tests, rules in a real Prometheus

GO          ?= go
PKG         := github.com/lvs-sidecar/lvs-sidecar
VERSION     ?= $(shell cat VERSION 2>/dev/null)
REVISION    ?= $(shell git rev-parse --short HEAD 2>/dev/null)
BRANCH      ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_DATE  ?= $(shell date -u +%Y%m%d-%H:%M:%S)
STATICCHECK_VERSION := v0.8.2
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck

VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=lvs-sidecar \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

.PHONY: all build test unit lint fuzz bench bench-lab soak e2e demo deps clean dashboards alerts screenshots

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/lvs-sidecar ./cmd/lvs-sidecar

test: lint unit fuzz e2e

unit:
	$(GO) test -race -count=1 ./...

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@# The lab tests build only with the e2e tag: lint them too.
	$(GO) vet -tags e2e ./e2e/ ./ipvs/
	$(STATICCHECK) -tags e2e ./e2e/ ./ipvs/
	@# internal/testutil is imported by tests only (it re-runs test binaries).
	@if grep -rln --include='*.go' '"os/exec"' $$(git ls-files '*.go' | grep -v '_test\.go$$' | grep -v '^lab/' | grep -v '^e2e/' | grep -v '^internal/testutil/'); then \
		echo "os/exec is not allowed in production code (see architecture.md)"; exit 1; fi

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./config/
	$(GO) test -run='^$$' -fuzz='^FuzzImportIpvsadm$$' -fuzztime=$(FUZZTIME) ./config/
	$(GO) test -run='^$$' -fuzz='^FuzzTextMatchesRegistry$$' -fuzztime=$(FUZZTIME) ./collector/

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# One VM run, 15-20 minutes: lvs-sidecar against Debian's node_exporter
# and keepalived on the same kernel and real servers (lab/bench; the
# figures go to BENCHMARKS.md, "Peers (lab)"). Flags: BENCH_FLAGS.
bench-lab:
	LAB_GO_LDFLAGS='$(LDFLAGS)' lab/bench $(BENCH_FLAGS)

# An hour of the real binary with 1,000 checked real servers, 10% of them
# flapping, scraped every 15 s: RSS, descriptors, goroutines and scrape
# time must stay flat (BENCHMARKS.md, "Soak"; not in make test).
# SOAK_DURATION=10m for a shorter one.
SOAK_DURATION ?= 1h
soak:
	$(GO) test -run='^$$' -bench=Soak -benchtime=1x -timeout=0 ./cmd/lvs-sidecar/ -args -soak.duration=$(SOAK_DURATION)

# Three VM runs: the scenario tests (./e2e), the ipvs package's own
# real-kernel tests (ipvs/lab_test.go), which load and unload ip_vs in a
# VM of their own, and `make demo` as a user runs it, checked through its
# Prometheus (lab/demo-test).
e2e: build
	LAB_GO_LDFLAGS='$(LDFLAGS)' lab/e2e
	@mkdir -p lab/work
	CGO_ENABLED=0 $(GO) test -c -tags e2e -trimpath -o lab/work/ipvs.test ./ipvs
	lab/run --timeout 240 -f lab/work/ipvs.test ipvs/testdata/lab.sh -test.v
	lab/demo-test

demo: build
	LAB_GO_LDFLAGS='$(LDFLAGS)' lab/demo

# alerts checks the Prometheus rules in alerts/ (needs promtool and
# prometheus: make deps). go test ./... runs the same tests.
alerts: deps
	promtool check rules alerts/lvs-sidecar.rules.yml
	CI=1 $(GO) test -count=1 ./alerts

# deps installs what the tests need from Debian: promtool (prometheus) for
# the exposition checks, nft and ip for the checkers' network-namespace
# tests, curl and jq for lab/demo-test, snmpd, snmptrapd, snmpwalk and
# snmptranslate (snmp) and smilint (smitools) for the SNMP poller table,
# notification and MIB tests, and npm, which fetches the SMIv2 base MIBs
# Debian main lacks (npm pack net-snmp), and chromium for the status page's
# browser tests and screenshots. The lab installs its own packages.
DEB_DEPS := promtool:prometheus nft:nftables ip:iproute2 curl:curl jq:jq \
	snmpd:snmpd snmptrapd:snmptrapd snmpwalk:snmp smilint:smitools npm:npm \
	chromium:chromium
deps:
	@missing=; for d in $(DEB_DEPS); do command -v $${d%%:*} >/dev/null || missing="$$missing $${d#*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-upgrade $$missing; \
	fi

# dashboards writes dashboards/*.json from dashboards/*.go; the test in
# ./dashboards fails while the committed files differ from what this writes.
dashboards:
	$(GO) run ./dashboards/cmd/gen -out dashboards

# screenshots writes docs/status-*.png, the status page the README shows,
# from headless Chromium against the binary on a simulated table of 1,000
# real servers (the same test checks them, without writing, in make unit).
screenshots:
	$(GO) test -count=1 -run TestStatusPageScreenshots ./cmd/lvs-sidecar/ -args -update-screenshots

clean:
	rm -rf bin/
