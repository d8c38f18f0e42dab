# shellcheck shell=bash
# runc: runs the image CI built (unpacked into an OCI bundle) in the image
# test, from Debian's runc package (Debian pins its version per release; 12:
# 1.1.5). It needs root, as the test does.

# ensure_runc installs Debian's runc when missing and exports DUBBOMESH_RUNC.
ensure_runc() {
  if ! command -v runc >/dev/null; then
    locked runc _install_runc || die "installing runc failed"
  fi
  DUBBOMESH_RUNC=$(command -v runc) || die "runc missing after install"
  export DUBBOMESH_RUNC
  note "runc: $("$DUBBOMESH_RUNC" --version 2>/dev/null | head -n 1)"
}

_install_runc() {
  command -v runc >/dev/null && return 0 # installed while we waited
  apt_install runc
}
