# Make targets wrap the scripts, which are the source of truth (CI runs
# scripts/test.sh through .ci/run). See docs/testing.md.
.PHONY: test lint fuzz bench

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
