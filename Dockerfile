# dubbomesh's image, for people with Docker (or podman/buildah):
#   docker build -t dubbomesh:dev .
# It is the image scripts/image.sh builds without a daemon: the same static
# binary (CGO_ENABLED=0, -trimpath), Debian's CA bundle and passwd/group for
# the user 65532, written by the same program (hack/image) onto an empty base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY hack/image/go.mod hack/image/go.sum hack/image/
RUN cd hack/image && go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/dubbomesh ./cmd/dubbomesh \
 && cd hack/image && go run . -binary /out/dubbomesh -ca /etc/ssl/certs/ca-certificates.crt -rootfs /out/rootfs

FROM scratch
COPY --from=build /out/rootfs/ /
COPY --from=build --chown=65532:65532 /out/rootfs/home/nonroot /home/nonroot
USER 65532:65532
ENV HOME=/home/nonroot SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /home/nonroot
ENTRYPOINT ["/dubbomesh"]
CMD ["serve"]
