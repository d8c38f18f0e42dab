#!/usr/bin/env bash
# image.sh: builds dubbomesh's container image without a container daemon or
# a registry pull: a static binary (CGO_ENABLED=0, -trimpath) and Debian's CA
# bundle in one layer on an empty base, user 65532 (hack/image writes it).
# The Dockerfile builds the same image with Docker.
#
# Usage: scripts/image.sh [OUT_DIR]        (default: _out/image)
#   OUT_DIR/oci/            OCI image layout (skopeo, crane, podman, runc after unpacking)
#   OUT_DIR/dubbomesh.tar   docker load -i / podman load -i
#   VERSION=v1.2.3 scripts/image.sh        the tag and `dubbomesh version` (default: git describe)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

out=${1:-_out/image}
require_go
ca=/etc/ssl/certs/ca-certificates.crt
[[ -s $ca ]] || apt_install ca-certificates
[[ -s $ca ]] || die "$ca missing after installing ca-certificates"
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
step "image dubbomesh:$version into $out"
arch=$(go env GOARCH)
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out/dubbomesh" ./cmd/dubbomesh \
  || die "go build ./cmd/dubbomesh failed"
(cd hack/image && retry go mod download) || die "go mod download in hack/image failed"
# hack/image itself runs on this machine, whatever GOARCH the binary is for.
(cd hack/image && env -u GOARCH -u GOOS go run . -binary "$out/dubbomesh" -arch "$arch" -ca "$ca" -tag "dubbomesh:$version" \
  -layout "$out/oci" -tar "$out/dubbomesh.tar") || die "writing the image failed"
