# shellcheck shell=bash
# chromium.sh: Debian's chromium, the headless browser the console's
# dashboard test (cmd/dubbomesh/internal/console/uitest) drives over the
# DevTools protocol. Pinned by the Debian release: bookworm ships security
# updates of one major line only, so the exact build follows
# bookworm-security; CHROMIUM_MIN_MAJOR is checked after install.
CHROMIUM_MIN_MAJOR=120

# ensure_chromium installs chromium from apt when missing and exports
# DUBBOMESH_CHROMIUM.
ensure_chromium() {
  if [[ -n ${DUBBOMESH_CHROMIUM:-} ]]; then
    [[ -x $DUBBOMESH_CHROMIUM ]] || die "DUBBOMESH_CHROMIUM=$DUBBOMESH_CHROMIUM is not executable"
    note "chromium: $DUBBOMESH_CHROMIUM (from DUBBOMESH_CHROMIUM)"
    export DUBBOMESH_CHROMIUM
    return
  fi
  if ! command -v chromium >/dev/null; then
    locked chromium apt_install_quiet chromium
  fi
  local bin v
  bin=$(command -v chromium) || die "chromium missing after install"
  v=$(dpkg-query -W -f='${Version}' chromium 2>/dev/null || true)
  [[ ${v%%.*} =~ ^[0-9]+$ && ${v%%.*} -ge $CHROMIUM_MIN_MAJOR ]] || die "chromium $v: want $CHROMIUM_MIN_MAJOR or newer"
  export DUBBOMESH_CHROMIUM=$bin
  note "chromium: $bin ($v)"
}

# apt_install_quiet installs Debian packages without their recommends and
# without starting any service they ship (policy-rc.d answers 101 for the
# duration), waiting for another apt run's lock instead of failing.
apt_install_quiet() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  local policy=/usr/sbin/policy-rc.d had=
  [[ -e $policy ]] && had=1
  if [[ -z $had ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod 755 "$policy"
  fi
  local rc=0
  if [[ -z $APT_UPDATED ]]; then
    note "apt-get update"
    retry as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || rc=1
    [[ $rc -eq 0 ]] && APT_UPDATED=1
  fi
  if [[ $rc -eq 0 ]]; then
    note "apt-get install -y --no-install-recommends $*"
    retry as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null || rc=1
  fi
  [[ -z $had ]] && as_root rm -f "$policy"
  [[ $rc -eq 0 ]] || die "apt-get install $* failed"
}
