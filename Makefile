# berth — see README.md. Two commands matter: `make run` and `make test`.

# A recipe that pipes a test into grep fails when the test fails.
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO        ?= go
BIN       := bin/berth
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/berth-dev/berth/internal/cli.Version=$(VERSION)
HTTP_ADDR ?= 127.0.0.1:8000
API_ADDR  ?= 127.0.0.1:7070

.PHONY: all build run stop test test-short test-swarm test-engine-restart vet fmt bench-restart bench-deploy bench-pipeline bench-swarm clean example-images

all: build

# CGO_ENABLED=0: a static binary, which berth's helper image (backups
# of volumes) is built from, FROM scratch.
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth

# Builds berth and the example app, starts `berth server` (data in
# /var/lib/berth as root, or $$BERTH_DATA_DIR) and deploys examples/hello.
run: build
	@scripts/ensure-docker
	@HTTP_ADDR=$(HTTP_ADDR) API_ADDR=$(API_ADDR) scripts/run-example

# Stops the server `make run` started (the app containers keep running).
stop:
	@scripts/run-example stop

example-images:
	@scripts/ensure-docker
	@scripts/build-example-images

# The whole suite: unit tests and tests against the real Docker engine.
test:
	@scripts/ensure-docker
	@scripts/ensure-test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m $$($(GO) list ./... | grep -v -e /internal/engine/swarm -e /internal/e2e/cluster)
	@$(MAKE) --no-print-directory test-swarm
	@$(MAKE) --no-print-directory test-engine-restart

# berth across a restart of the Docker engine under it, with live-restore
# and without (scripts/dockerd-lab: an engine of its own; root): fails
# when requests fail with live-restore, or when berth does not route to
# the restarted containers by itself without it.
test-engine-restart:
	@scripts/bench-dockerd-restart
	@$(MAKE) --no-print-directory crash-trials

# kill -9 at random instants, 30 trials (BERTH_CRASH_TRIALS): fails on an
# inconsistent end; the last line is "trials N, inconsistent M".
.PHONY: crash-trials
crash-trials:
	@echo "kill -9 at random instants of deploy, rollback, canary, promote, scale, config and secret set (make bench-crash for the details):"
	@BERTH_BENCH_CRASH=1 BERTH_CRASH_TRIALS=$${BERTH_CRASH_TRIALS:-30} $(GO) test -count=1 -run '^TestBenchCrash$$' -v -timeout 30m ./internal/e2e/ 2>&1 | grep -E '^trials |^inconsistent:|^(--- )?FAIL|^ok'

# The Swarm backend against a 3-node swarm built on this machine
# (scripts/swarm-lab; root): built when not up, torn down after.
test-swarm:
	@scripts/swarm-test

# Rolling update, rollback and failed-update rollback of 6 replicas under
# load on the lab swarm, a node drained and one's dockerd killed: failed
# requests and seconds to complete; prints figures.
bench-swarm:
	@scripts/swarm-test bench

# Unit tests only (no Docker needed).
test-short:
	$(GO) test -race -short ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Failed requests and the longest wait across restarts of berth itself:
# hand-offs (SIGHUP), kill -9 with socket activation and without, a
# dockerd restart; then the kill -9 trials' consistency count.
bench-restart:
	@scripts/ensure-docker
	BERTH_BENCH=1 $(GO) test -count=1 -run '^TestBenchRestart$$' -v -timeout 15m ./internal/e2e/ 2>&1 | grep -E '^bench-restart:|^(--- )?FAIL|^ok' | sed 's/^bench-restart: //'
	@scripts/bench-dockerd-restart
	@$(MAKE) --no-print-directory crash-trials

# Deploy and rollback under load against the real engine; prints figures.
bench-deploy: build
	@scripts/ensure-docker
	BERTH_BENCH=1 $(GO) test -count=1 -run '^TestBenchDeploy$$' -v -timeout 10m ./internal/e2e/

# kill -9 of berth server at random instants of deploy, rollback, canary,
# promote, scale, config set and secret set under load, 40 trials
# (BERTH_CRASH_TRIALS, BERTH_CRASH_SEED): prints "trials N, inconsistent M"
# and what was inconsistent.
.PHONY: bench-crash
bench-crash:
	@scripts/ensure-docker
	BERTH_BENCH_CRASH=1 $(GO) test -count=1 -run '^TestBenchCrash$$' -v -timeout 30m ./internal/e2e/

# A load step on one host against x-berth.autoscale: seconds from the step
# to the new replicas taking traffic, failed requests during scale-out and
# scale-in, and the replica count over time.
.PHONY: bench-autoscale
bench-autoscale:
	@scripts/ensure-docker
	BERTH_BENCH=1 $(GO) test -count=1 -run '^TestBenchAutoscale$$' -v -timeout 10m ./internal/e2e/ 2>&1 | grep -E '^bench-autoscale:|^(--- )?FAIL|^ok' | sed 's/^bench-autoscale: //'
	@if [ "$$(id -u)" = 0 ]; then GO=$(GO) scripts/swarm-test bench-autoscale; else echo "swarm lab part skipped: it needs root (scripts/swarm-lab)"; fi

# git push -> webhook -> fetch, build, test, deploy of examples/hello, cold
# and warm, with the split of the steps; prints figures.
bench-pipeline:
	@scripts/ensure-docker
	BERTH_BENCH=1 $(GO) test -count=1 -run '^TestBenchPipeline$$' -v -timeout 15m ./internal/e2e/ 2>&1 | grep -v '^=== \|level=\|harness_test'

clean:
	rm -rf bin examples/hello/hello

# berth's proxy against nginx and HAProxy on the same backend and load (wrk):
# req/s, p50, p99 and the berth/nginx ratios. Installs nginx, haproxy, wrk
# with apt-get when missing.
.PHONY: bench-proxy
bench-proxy:
	@scripts/bench-proxy

# Memory per idle keep-alive client connection: berth's proxy (with and
# without event loops) against nginx. N (5000) connections.
.PHONY: bench-compose
bench-compose:
	@go test -run '^$$' -bench BenchmarkCorpus -benchtime 2s ./internal/spec/ | grep -E '^(Benchmark|ok)'
	@echo "(per op: loading the largest file of internal/spec/testdata/corpus; accepted/refused count the whole corpus, see its corpus.golden)"

# PNGs of the console's pages (sign-in, overview, app, rollback
# confirmation, deployment, deploy, a canary, builds, a build, charts,
# jobs) into $(SHOTS), from its browser tests against
# the real engine (needs chromium: scripts/ensure-test-deps).
SHOTS ?= $(CURDIR)/.berth/screenshots
.PHONY: screenshots
screenshots:
	@scripts/ensure-docker
	@scripts/ensure-test-deps
	BERTH_SCREENSHOTS=$(SHOTS) $(GO) test -count=1 -run '^TestConsole_(SignInDeployRollBackInABrowser|DeployButtonAndCanaryInABrowser|DeployTheHeadOfABranchAndItsBuilds|ChartsAndP99|JobsOnAnAppsPage)$$' -timeout 20m ./internal/e2e/
	@ls $(SHOTS)/*.png

# The console with 50 apps on the real engine: the overview's server time
# (its page, the status it renders, its live stream's first event) and
# the memory the server holds for 100 open live pages.
.PHONY: bench-console
bench-console:
	@scripts/ensure-docker
	BERTH_BENCH=1 $(GO) test -count=1 -run '^TestBenchConsole$$' -v -timeout 15m ./internal/e2e/ 2>&1 | grep -E '^bench-console:|^(--- )?FAIL|^ok|_test.go:[0-9]+: ' | grep -v 'harness_test.go' | sed 's/^bench-console: //'

.PHONY: bench-idle
bench-idle:
	@scripts/bench-idle
