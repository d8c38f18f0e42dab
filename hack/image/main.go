// Command image writes dubbomesh's container image without a container
// daemon or a registry: one layer holding the static dubbomesh binary, a CA
// bundle and passwd/group entries for the non-root user 65532, on an empty
// base. The same inputs give the same image digest (every timestamp is
// SOURCE_DATE_EPOCH, 0 by default).
//
//	image -binary dubbomesh -ca /etc/ssl/certs/ca-certificates.crt -tag dubbomesh:v1 \
//	      [-arch amd64] [-layout DIR] [-tar FILE] [-rootfs DIR]
//
// -layout writes (or replaces) an OCI image layout, -tar a tarball that
// `docker load` and `podman load` read, -rootfs the layer's files as a
// directory (the Dockerfile copies it onto scratch). scripts/image.sh runs it.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image's user: distroless' "nonroot".
const (
	uid  = 65532
	home = "/home/nonroot"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	binary := flag.String("binary", "", "the static dubbomesh binary (CGO_ENABLED=0)")
	ca := flag.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle (PEM), installed as /etc/ssl/certs/ca-certificates.crt")
	tag := flag.String("tag", "dubbomesh:dev", "image reference recorded in the layout and the tarball")
	layoutDir := flag.String("layout", "", "write an OCI image layout to this directory")
	tarFile := flag.String("tar", "", "write a docker/podman-loadable tarball to this file")
	rootfs := flag.String("rootfs", "", "write the layer's files to this directory")
	arch := flag.String("arch", runtime.GOARCH, "the binary's GOARCH, recorded in the image config")
	flag.Parse()
	if *binary == "" {
		return errors.New("-binary is required")
	}
	if *layoutDir == "" && *tarFile == "" && *rootfs == "" {
		return errors.New("give at least one of -layout, -tar, -rootfs")
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	files, err := contents(*binary, *ca)
	if err != nil {
		return err
	}
	if *rootfs != "" {
		if err := writeRootfs(*rootfs, files); err != nil {
			return err
		}
	}
	if *layoutDir == "" && *tarFile == "" {
		return nil
	}
	img, err := build(files, epoch, *arch)
	if err != nil {
		return err
	}
	ref, err := name.NewTag(*tag, name.WithDefaultRegistry("docker.io"))
	if err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	if *layoutDir != "" {
		if err := os.RemoveAll(*layoutDir); err != nil {
			return err
		}
		p, err := layout.Write(*layoutDir, empty.Index)
		if err != nil {
			return fmt.Errorf("layout: %w", err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": ref.TagStr(),
			"io.containerd.image.name":          canonical(ref),
		})); err != nil {
			return fmt.Errorf("layout: %w", err)
		}
	}
	if *tarFile != "" {
		if err := tarball.WriteToFile(*tarFile, ref, img); err != nil {
			return fmt.Errorf("tarball: %w", err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(canonical(ref) + "@" + d.String())
	return nil
}

func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// A file is one entry of the layer; a nil data with dir set is a directory.
type file struct {
	path     string
	mode     int64
	uid      int
	dir      bool
	data     []byte
	fromPath string // data read from here when set
}

// contents are the layer's entries, parents before children.
func contents(binary, ca string) ([]file, error) {
	for _, p := range []string{binary, ca} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", uid, uid, home)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid)
	return []file{
		{path: "dubbomesh", mode: 0o755, fromPath: binary},
		{path: "etc", mode: 0o755, dir: true},
		{path: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "etc/group", mode: 0o644, data: []byte(group)},
		{path: "etc/ssl", mode: 0o755, dir: true},
		{path: "etc/ssl/certs", mode: 0o755, dir: true},
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, fromPath: ca},
		{path: "home", mode: 0o755, dir: true},
		{path: home[1:], mode: 0o700, uid: uid, dir: true},
		{path: "tmp", mode: 0o1777, dir: true},
	}, nil
}

func build(files []file, epoch time.Time, arch string) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: epoch,
			Format: tar.FormatPAX,
		}
		data := f.data
		if f.fromPath != "" {
			var err error
			if data, err = os.ReadFile(f.fromPath); err != nil {
				return nil, err
			}
		}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.path+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerTar := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, "application/vnd.oci.image.manifest.v1+json")
	img = mutate.ConfigMediaType(img, "application/vnd.oci.image.config.v1+json")
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = arch, "linux"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, uid),
		Entrypoint: []string{"/dubbomesh"},
		Cmd:        []string{"serve"},
		Env: []string{
			"HOME=" + home,
			"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		},
		WorkingDir: home,
		Labels: map[string]string{
			"org.opencontainers.image.source": "https://github.com/dubbomesh/dubbomesh",
			"org.opencontainers.image.title":  "dubbomesh",
		},
	}
	return mutate.ConfigFile(img, cfg)
}

func writeRootfs(dir string, files []file) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if f.dir {
			if err := os.MkdirAll(p, os.FileMode(f.mode&0o777)); err != nil {
				return err
			}
			if err := os.Chmod(p, os.FileMode(f.mode&0o777)|modeBits(f.mode)); err != nil {
				return err
			}
			continue
		}
		data := f.data
		if f.fromPath != "" {
			var err error
			if data, err = os.ReadFile(f.fromPath); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p, data, os.FileMode(f.mode)); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(f.mode)); err != nil {
			return err
		}
	}
	return nil
}

// modeBits maps the tar sticky bit to Go's.
func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// canonical is the reference as containerd and docker name it
// (docker.io/library/dubbomesh:v1); go-containerregistry says
// index.docker.io.
func canonical(ref name.Tag) string {
	reg := ref.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + ref.RepositoryStr() + ":" + ref.TagStr()
}
