# shellcheck shell=bash
# helm: the Helm CLI for the chart tests (helm lint, helm template), built
# from the Go module proxy (helm.sh/helm/v3 has no replace directives, so
# `go install module@version` builds it as released).
HELM_VERSION=v3.22.0

# ensure_helm builds helm $HELM_VERSION into $TOOLS_DIR/helm-$HELM_VERSION/
# once and exports DUBBOMESH_HELM. Cold (empty module cache): see
# docs/kubernetes.md (measured build times).
ensure_helm() {
  local dir=$TOOLS_DIR/helm-$HELM_VERSION
  if [[ ! -x $dir/helm ]]; then
    locked helm _install_helm "$dir" || die "installing helm $HELM_VERSION failed"
  fi
  export DUBBOMESH_HELM=$dir/helm
  note "helm: $("$DUBBOMESH_HELM" version --short 2>/dev/null || echo "$DUBBOMESH_HELM")"
}

_install_helm() {
  local dir=$1
  [[ -x $dir/helm ]] && return 0 # another run built it while we waited
  note "building helm $HELM_VERSION into $dir"
  mkdir -p "$dir/bin.tmp"
  # Outside any module so that no go.mod is read or touched.
  (cd "$dir" && retry env GOBIN="$dir/bin.tmp" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    nice -n 10 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") || return 1
  mv "$dir/bin.tmp/helm" "$dir/helm" && rmdir "$dir/bin.tmp"
}
