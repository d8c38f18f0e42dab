// Command kubeapiserver-harness runs a real Kubernetes API server for
// dubbomesh's chart tests: the unmodified kube-apiserver of k8s.io/kubernetes
// (cmd/kube-apiserver/app, the same command the release binary runs) backed
// by an embedded etcd server (go.etcd.io/etcd/server/v3/embed, the version
// Kubernetes itself requires), both on 127.0.0.1, in one process.
//
// It is test machinery, in its own Go module so that Kubernetes' dependency
// tree stays out of dubbomesh's.
//
//	kubeapiserver-harness -dir DIR -port P -etcd-port E -etcd-peer-port F
//
// DIR receives the etcd data, a self-signed serving certificate for
// 127.0.0.1, a static bearer token of a system:masters user and
// DIR/kubeconfig, which names the server (https://127.0.0.1:P), its
// certificate and the token. Readiness is the API server's own /readyz.
// SIGTERM or SIGINT stops it.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kubeapiserver-harness:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "data directory (etcd data, certificates, kubeconfig)")
	port := flag.Int("port", 0, "the API server's secure port on 127.0.0.1")
	etcdPort := flag.Int("etcd-port", 0, "etcd's client port on 127.0.0.1")
	etcdPeerPort := flag.Int("etcd-peer-port", 0, "etcd's peer port on 127.0.0.1")
	flag.Parse()
	if *dir == "" || *port == 0 || *etcdPort == 0 || *etcdPeerPort == 0 {
		return errors.New("-dir, -port, -etcd-port and -etcd-peer-port are required")
	}
	etcd, err := startEtcd(filepath.Join(*dir, "etcd"), *etcdPort, *etcdPeerPort)
	if err != nil {
		return err
	}
	defer etcd.Close()
	fmt.Fprintln(os.Stderr, "kubeapiserver-harness: etcd ready")

	files, err := writeCredentials(*dir, *port)
	if err != nil {
		return err
	}
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs([]string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(*etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(*port),
		"--tls-cert-file=" + files.cert,
		"--tls-private-key-file=" + files.key,
		"--token-auth-file=" + files.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + files.saKey,
		"--service-account-signing-key-file=" + files.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		"--cert-dir=" + filepath.Join(*dir, "certs"),
	})
	if code := cli.Run(cmd); code != 0 {
		return fmt.Errorf("kube-apiserver exited with status %d", code)
	}
	return nil
}

func startEtcd(dir string, port, peerPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "harness"
	client := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	peer := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("etcd: not ready after 60s")
	}
}

type credentials struct{ cert, key, tokens, saKey string }

// writeCredentials writes the serving certificate, the token file, the
// service-account key and the kubeconfig into dir.
func writeCredentials(dir string, port int) (credentials, error) {
	c := credentials{
		cert:   filepath.Join(dir, "serving.crt"),
		key:    filepath.Join(dir, "serving.key"),
		tokens: filepath.Join(dir, "tokens.csv"),
		saKey:  filepath.Join(dir, "sa.key"),
	}
	certPEM, keyPEM, err := servingCert()
	if err != nil {
		return c, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return c, err
	}
	saDER := x509.MarshalPKCS1PrivateKey(saKey)
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return c, err
	}
	token := hex.EncodeToString(tok)
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: harness
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: harness
  context:
    cluster: harness
    user: admin
current-context: harness
`, port, base64.StdEncoding.EncodeToString(certPEM), token)
	for path, data := range map[string][]byte{
		c.cert:                           certPEM,
		c.key:                            keyPEM,
		c.tokens:                         []byte(token + ",admin,admin,system:masters\n"),
		c.saKey:                          pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: saDER}),
		filepath.Join(dir, "kubeconfig"): []byte(kubeconfig),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return c, err
		}
	}
	return c, nil
}

// servingCert is a self-signed certificate for 127.0.0.1 and localhost.
func servingCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubeapiserver-harness"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
