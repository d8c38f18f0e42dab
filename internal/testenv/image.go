package testenv

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ImageConfig is the part of an OCI image config a runtime uses.
type ImageConfig struct {
	User       string   `json:"User"`
	Entrypoint []string `json:"Entrypoint"`
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
}

type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
}

// UnpackImage extracts the first image of the OCI image layout dir into
// rootfs (layers in order, owners and modes as recorded; it must run as
// root to set owners) and returns its config.
func UnpackImage(dir, rootfs string) (ImageConfig, error) {
	var cfg ImageConfig
	var index struct {
		Manifests []ociDescriptor `json:"manifests"`
	}
	if err := readJSON(filepath.Join(dir, "index.json"), &index); err != nil {
		return cfg, err
	}
	if len(index.Manifests) == 0 {
		return cfg, fmt.Errorf("image %s: index.json has no manifest", dir)
	}
	var manifest struct {
		Config ociDescriptor   `json:"config"`
		Layers []ociDescriptor `json:"layers"`
	}
	if err := readJSON(blobPath(dir, index.Manifests[0].Digest), &manifest); err != nil {
		return cfg, err
	}
	var config struct {
		Config ImageConfig `json:"config"`
	}
	if err := readJSON(blobPath(dir, manifest.Config.Digest), &config); err != nil {
		return cfg, err
	}
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return cfg, err
	}
	for _, l := range manifest.Layers {
		if err := extractLayer(blobPath(dir, l.Digest), l.MediaType, rootfs); err != nil {
			return cfg, fmt.Errorf("image %s: layer %s: %w", dir, l.Digest, err)
		}
	}
	return config.Config, nil
}

func blobPath(dir, digest string) string {
	algo, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, "blobs", algo, hex)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func extractLayer(path, mediaType, rootfs string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(mediaType, "gzip") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("entry %q leaves the root", h.Name)
		}
		if strings.HasPrefix(filepath.Base(name), ".wh.") {
			return fmt.Errorf("entry %q: whiteouts are not supported", h.Name)
		}
		target := filepath.Join(rootfs, name)
		mode := os.FileMode(h.Mode & 0o777)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: unsupported type %q", h.Name, h.Typeflag)
		}
		if h.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(target, mode|stickyBit(h.Mode)); err != nil {
				return err
			}
		}
		if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
			return err
		}
	}
}

func stickyBit(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}
