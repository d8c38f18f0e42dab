package xds

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TLS secures the xDS server. The zero value serves plain text.
//
// Files are PEM and are read again when they change (checked at each TLS
// handshake, by modification time and size), so certificates rotated in
// place, e.g. a Kubernetes Secret volume, take effect for new connections
// without a restart. A change that fails to load keeps the previous
// certificates, logs an error and counts dubbomesh_xds_tls_reload_errors_total.
type TLS struct {
	// CertFile and KeyFile are the server's certificate chain and private
	// key; both or neither.
	CertFile string `yaml:"cert"`
	KeyFile  string `yaml:"key"`
	// ClientCAFile, if set, requires every client to present a certificate
	// signed by one of these CAs (mutual TLS). istiod's xds:// config source
	// supports server TLS only (ClientTLSSettings mode SIMPLE): leave it
	// empty when istiod connects.
	ClientCAFile string `yaml:"clientCA"`
}

// Enabled reports whether the server uses TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" }

// validate checks the settings; New reads the files (once) and reports
// those that do not load.
func (t TLS) validate() error {
	if t.Enabled() && (t.CertFile == "" || t.KeyFile == "") {
		return errors.New("xds: tls: a certificate file and a key file are both required")
	}
	return nil
}

// tlsState is one loaded set of files.
type tlsState struct {
	cert     *tls.Certificate
	clientCA *x509.CertPool // nil: no client certificate asked for
}

func (t TLS) load() (*tlsState, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("xds: tls: server certificate: %w", err)
	}
	s := &tlsState{cert: &cert}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("xds: tls: client CA: %w", err)
		}
		s.clientCA = x509.NewCertPool()
		if !s.clientCA.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("xds: tls: client CA %s: no PEM certificate in it", t.ClientCAFile)
		}
	}
	return s, nil
}

// fileStamp identifies one version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

// tlsReloader serves the current TLS state to each handshake, reloading the
// files when they changed.
type tlsReloader struct {
	files  TLS
	log    *slog.Logger
	errors prometheus.Counter

	mu     sync.Mutex
	state  *tlsState
	stamps []fileStamp
}

func newTLSReloader(files TLS, log *slog.Logger, errs prometheus.Counter) (*tlsReloader, error) {
	r := &tlsReloader{files: files, log: log, errors: errs}
	state, err := files.load()
	if err != nil {
		return nil, err
	}
	r.state, r.stamps = state, r.stat()
	return r, nil
}

func (r *tlsReloader) paths() []string {
	p := []string{r.files.CertFile, r.files.KeyFile}
	if r.files.ClientCAFile != "" {
		p = append(p, r.files.ClientCAFile)
	}
	return p
}

// stat returns the files' stamps; a file that cannot be read has a zero
// stamp.
func (r *tlsReloader) stat() []fileStamp {
	var out []fileStamp
	for _, p := range r.paths() {
		var s fileStamp
		if fi, err := os.Stat(p); err == nil {
			s = fileStamp{fi.ModTime(), fi.Size()}
		}
		out = append(out, s)
	}
	return out
}

// current returns the state to use now, reloading changed files first.
func (r *tlsReloader) current() *tlsState {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamps := r.stat()
	if equalStamps(stamps, r.stamps) {
		return r.state
	}
	// Remember the stamps either way: a bad file is reported once per
	// change, not at every handshake.
	r.stamps = stamps
	state, err := r.files.load()
	if err != nil {
		r.errors.Inc()
		r.log.Error("TLS files changed but cannot be loaded; keeping the previous certificates", "error", err)
		return r.state
	}
	r.state = state
	r.log.Info("TLS certificates reloaded", "cert", r.files.CertFile)
	return r.state
}

func equalStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].mod.Equal(b[i].mod) || a[i].size != b[i].size {
			return false
		}
	}
	return true
}

// config is the server's tls.Config: TLS 1.2 or later, HTTP/2, and the
// current files at each handshake.
func (r *tlsReloader) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			s := r.current()
			c := &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   []string{"h2"},
				Certificates: []tls.Certificate{*s.cert},
			}
			if s.clientCA != nil {
				c.ClientAuth = tls.RequireAndVerifyClientCert
				c.ClientCAs = s.clientCA
			}
			return c, nil
		},
	}
}
