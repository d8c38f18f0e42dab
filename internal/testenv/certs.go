package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs is a throw-away PKI in a test's temporary directory: a CA, a server
// certificate for 127.0.0.1 and localhost, and a client certificate, as PEM
// files.
type Certs struct {
	CA                    string // CA certificate file
	ServerCert, ServerKey string
	ClientCert, ClientKey string

	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

// NewCerts creates the CA and both certificates.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	c := &Certs{dir: t.TempDir()}
	c.CA = filepath.Join(c.dir, "ca.pem")
	c.ServerCert, c.ServerKey = filepath.Join(c.dir, "server.pem"), filepath.Join(c.dir, "server-key.pem")
	c.ClientCert, c.ClientKey = filepath.Join(c.dir, "client.pem"), filepath.Join(c.dir, "client-key.pem")
	c.ca, c.caKey = c.newCA(t, "dubbomesh test CA", c.CA)
	c.RotateServer(t)
	c.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "dubbomesh test client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, c.ClientCert, c.ClientKey)
	return c
}

// RotateServer issues a new server certificate (a new serial number) and
// replaces the server files with it, each by an atomic rename; it returns
// the certificate.
func (c *Certs) RotateServer(t testing.TB) *x509.Certificate {
	t.Helper()
	return c.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "dubbomesh test server"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, c.ServerCert, c.ServerKey)
}

// OtherCA writes a CA that signed none of the certificates and returns its
// file: trusting only it must fail verification.
func (c *Certs) OtherCA(t testing.TB) string {
	t.Helper()
	f := filepath.Join(c.dir, "other-ca.pem")
	c.newCA(t, "unrelated CA", f)
	return f
}

func (c *Certs) newCA(t testing.TB, name, file string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	c.serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(c.serial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	writePEM(t, file, "CERTIFICATE", der)
	return cert, key
}

func (c *Certs) issue(t testing.TB, tmpl *x509.Certificate, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key := newKey(t)
	c.serial++
	tmpl.SerialNumber = big.NewInt(c.serial)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.caKey)
	if err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	writePEM(t, certFile, "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	return cert
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	return key
}

// writePEM writes one PEM block to file by an atomic rename.
func writePEM(t testing.TB, file, kind string, der []byte) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
}
