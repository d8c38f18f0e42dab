# shellcheck shell=bash
# kubeapiserver: a real Kubernetes API server for the chart tests, built
# from the nested Go module test/kubeapiserver (the unmodified kube-apiserver
# of k8s.io/kubernetes with an embedded etcd; see its main.go), so that
# Kubernetes' dependency tree stays out of ours.

# kubeapiserver_key hashes the harness sources (go.mod, go.sum and its Go
# files, in that order); internal/testenv computes the same key.
kubeapiserver_key() {
  (cd test/kubeapiserver && cat go.mod go.sum $(LC_ALL=C ls -- *.go) | sha256sum | cut -c1-12)
}

# ensure_kubeapiserver builds the harness into
# $DUBBOMESH_CACHE/kubeapiserver-<key>/ once and exports
# DUBBOMESH_KUBEAPISERVER. Cold, it takes the time docs/kubernetes.md
# reports (module downloads + compiling kube-apiserver on 2 cores).
ensure_kubeapiserver() {
  if [[ -n ${DUBBOMESH_KUBEAPISERVER:-} ]]; then
    [[ -x $DUBBOMESH_KUBEAPISERVER ]] || die "DUBBOMESH_KUBEAPISERVER=$DUBBOMESH_KUBEAPISERVER is not executable"
    note "kube-apiserver harness: $DUBBOMESH_KUBEAPISERVER (from DUBBOMESH_KUBEAPISERVER)"
    export DUBBOMESH_KUBEAPISERVER
    return
  fi
  local dir
  dir=$DUBBOMESH_CACHE/kubeapiserver-$(kubeapiserver_key) || die "cannot hash test/kubeapiserver"
  if [[ ! -x $dir/kubeapiserver-harness ]]; then
    locked kubeapiserver _build_kubeapiserver "$dir" || die "building test/kubeapiserver failed"
  fi
  export DUBBOMESH_KUBEAPISERVER=$dir/kubeapiserver-harness
  note "kube-apiserver harness: $DUBBOMESH_KUBEAPISERVER"
}

_build_kubeapiserver() {
  local dir=$1
  [[ -x $dir/kubeapiserver-harness ]] && return 0 # built while we waited
  note "building the kube-apiserver harness into $dir"
  mkdir -p "$dir"
  (cd test/kubeapiserver && retry go mod download) || return 1
  (cd test/kubeapiserver && CGO_ENABLED=0 nice -n 10 go build -o "$dir/kubeapiserver-harness.tmp" .) || return 1
  mv "$dir/kubeapiserver-harness.tmp" "$dir/kubeapiserver-harness"
}
