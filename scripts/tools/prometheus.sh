# shellcheck shell=bash
# prometheus.sh: Debian's prometheus server, which the console's dashboard
# test runs on loopback (its own config, scrape interval 1 s) to scrape the
# apps' dubbomesh_router_* metrics. Pinned by the Debian release: bookworm
# ships 2.42; PROMETHEUS_VERSION is checked after install. The package's
# own service is never started (apt_install_quiet, chromium.sh).
PROMETHEUS_VERSION=2.42

# ensure_prometheus installs prometheus from apt when missing and exports
# DUBBOMESH_PROMETHEUS.
ensure_prometheus() {
  if [[ -n ${DUBBOMESH_PROMETHEUS:-} ]]; then
    [[ -x $DUBBOMESH_PROMETHEUS ]] || die "DUBBOMESH_PROMETHEUS=$DUBBOMESH_PROMETHEUS is not executable"
    note "prometheus: $DUBBOMESH_PROMETHEUS (from DUBBOMESH_PROMETHEUS)"
    export DUBBOMESH_PROMETHEUS
    return
  fi
  if ! command -v prometheus >/dev/null; then
    locked prometheus apt_install_quiet prometheus
  fi
  local bin v
  bin=$(command -v prometheus) || die "prometheus missing after install"
  v=$(dpkg-query -W -f='${Version}' prometheus 2>/dev/null || true)
  [[ $v == "$PROMETHEUS_VERSION".* ]] || die "prometheus $v: want $PROMETHEUS_VERSION.x (Debian bookworm)"
  export DUBBOMESH_PROMETHEUS=$bin
  note "prometheus: $bin ($v)"
}
