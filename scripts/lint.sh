#!/usr/bin/env bash
# lint.sh: gofmt, go vet and staticcheck (pinned, built into the tool cache).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_go
ensure_staticcheck
run_lint || die "lint failed"
step "lint passed"
