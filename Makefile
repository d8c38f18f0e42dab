# Make targets wrap the scripts, which are the source of truth (CI runs
# scripts/test.sh through .ci/run). See docs/testing.md.
.PHONY: test lint fuzz bench image helm-lint

# Everything CI runs: installs missing components, lint, go test -race.
test:
	./scripts/test.sh

# gofmt, go vet and staticcheck (pinned, cached in ~/.cache/dubbomesh/tools).
lint:
	./scripts/lint.sh

# A short run of every Fuzz* target; FUZZTIME=1m make fuzz for longer runs.
FUZZTIME ?= 10s
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Every benchmark, with allocations; BENCH=Regexp narrows, BENCHTIME=5s lengthens.
BENCH ?= .
BENCHTIME ?= 1s
bench:
	go test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) ./...

# The container image without a daemon: _out/image/oci (OCI layout) and
# _out/image/dubbomesh.tar (docker/podman load). VERSION=v1.2.3 make image.
image:
	./scripts/image.sh _out/image

# helm lint and the chart's tests (helm built from the Go module proxy).
helm-lint:
	./scripts/test.sh --no-lint -run 'TestLint|TestTemplate|TestSchema|TestNotes' ./charts/dubbomesh/
