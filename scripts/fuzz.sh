#!/usr/bin/env bash
# fuzz.sh: a short run of every native fuzz target (func FuzzXxx(f *testing.F))
# in the repository, one after another: go test -fuzz takes one target at a
# time. FUZZTIME sets each run's length (default 10s).
#
# Usage: scripts/fuzz.sh [package pattern, default ./...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
require_go
fuzztime=${FUZZTIME:-10s}
pattern=${1:-./...}

targets=0 failed=()
while IFS=$'\t' read -r dir names; do
  for name in $names; do
    targets=$((targets + 1))
    step "fuzz $dir $name ($fuzztime)"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir" </dev/null || failed+=("$dir $name")
  done
done < <(go list -f '{{.Dir}}' "$pattern" | while read -r d; do
  names=$( (grep -ho '^func Fuzz[A-Za-z0-9_]*(' "$d"/*_test.go 2>/dev/null || true) | sed 's/^func //; s/($//' | sort -u | tr '\n' ' ')
  if [[ -n $names ]]; then printf '%s\t%s\n' "./${d#"$PWD"/}" "$names"; fi
done)

if [[ $targets -eq 0 ]]; then
  step "no fuzz targets found"
  exit 0
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  printf 'fuzz failures:\n' >&2; printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
step "$targets fuzz targets passed"
