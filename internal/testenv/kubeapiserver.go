package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvKubeAPIServer names the kube-apiserver harness binary
// (test/kubeapiserver, built by scripts/tools/kubeapiserver.sh into
// $DUBBOMESH_CACHE/kubeapiserver-<hash>/).
const EnvKubeAPIServer = "DUBBOMESH_KUBEAPISERVER"

const kubeAPIServerReady = 120 * time.Second

// KubeAPIServer is a real Kubernetes API server (kube-apiserver of
// k8s.io/kubernetes, unmodified) with an embedded etcd, on 127.0.0.1. There
// are no controllers, scheduler or nodes: objects are stored and validated,
// nothing runs.
type KubeAPIServer struct {
	url        string
	kubeconfig string
	token      string
	client     *http.Client
	proc       *process
}

// KubeAPIServerBinary returns the harness: $DUBBOMESH_KUBEAPISERVER, or the
// one scripts/test.sh builds for this checkout's test/kubeapiserver. It
// skips the test (or fails it, see Required) when there is none.
func KubeAPIServerBinary(t testing.TB) string {
	t.Helper()
	if v := os.Getenv(EnvKubeAPIServer); v != "" {
		if _, err := os.Stat(v); err == nil {
			return v
		}
		missing(t, "kube-apiserver harness "+v, "run ./scripts/test.sh, which builds it")
	}
	if p, err := cachedHarness("kubeapiserver", "kubeapiserver-harness"); err == nil {
		return p
	}
	missing(t, "kube-apiserver harness", "build it with ./scripts/test.sh or set "+EnvKubeAPIServer)
	return ""
}

// StartKubeAPIServer runs the API server on free loopback ports and waits
// until its /readyz answers 200. It is stopped when the test ends.
func StartKubeAPIServer(t testing.TB) *KubeAPIServer {
	t.Helper()
	bin := KubeAPIServerBinary(t)
	dir := t.TempDir()
	port := FreePort(t)
	k := &KubeAPIServer{url: "https://127.0.0.1:" + strconv.Itoa(port)}
	logOnFailure(t, func() *process { return k.proc })
	t.Cleanup(func() {
		if k.proc != nil {
			_ = k.proc.stop(syscall.SIGTERM, 15*time.Second)
		}
	})
	proc, err := startProcess("kube-apiserver", filepath.Join(dir, "kube-apiserver.log"), nil,
		bin, "-dir", dir, "-port", strconv.Itoa(port),
		"-etcd-port", strconv.Itoa(FreePort(t)), "-etcd-peer-port", strconv.Itoa(FreePort(t)))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	k.proc = proc
	kubeconfig := filepath.Join(dir, "kubeconfig")
	k.kubeconfig = kubeconfig
	err = poll(proc, kubeAPIServerReady, 200*time.Millisecond, func(ctx context.Context) error {
		if k.client == nil {
			if err := k.readKubeconfig(kubeconfig); err != nil {
				return err
			}
		}
		_, err := k.Do(ctx, http.MethodGet, "/readyz", "", nil)
		return err
	})
	if err != nil {
		t.Fatalf("testenv: kube-apiserver: %v", err)
	}
	return k
}

// readKubeconfig takes the server's certificate and token from the
// kubeconfig the harness writes.
func (k *KubeAPIServer) readKubeconfig(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				CA string `yaml:"certificate-authority-data"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		Users []struct {
			User struct {
				Token string `yaml:"token"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil || len(kc.Clusters) != 1 || len(kc.Users) != 1 {
		return fmt.Errorf("kubeconfig %s: unexpected content (%v)", path, err)
	}
	pemCA, err := base64.StdEncoding.DecodeString(kc.Clusters[0].Cluster.CA)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: certificate: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return fmt.Errorf("kubeconfig %s: no certificate", path)
	}
	k.token = kc.Users[0].User.Token
	k.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	return nil
}

// URL is the server's address, https://127.0.0.1:PORT.
func (k *KubeAPIServer) URL() string { return k.url }

// Kubeconfig is the path of a kubeconfig for a cluster admin (for helm,
// kubectl).
func (k *KubeAPIServer) Kubeconfig() string { return k.kubeconfig }

// Do sends one request as a cluster admin (system:masters) and returns the
// response body; a status other than 2xx is an error holding the body
// (the API server's Status with its reason and causes).
func (k *KubeAPIServer) Do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, k.url+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, out)
	}
	return out, nil
}
