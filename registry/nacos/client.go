package nacos

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	sdklogger "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// nsClients are the SDK clients of one namespace: the SDK binds a client to
// one namespace.
type nsClients struct {
	ns     string
	naming naming_client.INamingClient
	config config_client.IConfigClient
}

func (c *nsClients) close() {
	if c.naming != nil {
		c.naming.CloseClient()
	}
	if c.config != nil {
		c.config.CloseClient()
	}
}

// serverConfigs returns the SDK's configuration of the servers of a
// validated Config.
func serverConfigs(servers []string) []constant.ServerConfig {
	out := make([]constant.ServerConfig, 0, len(servers))
	for _, s := range servers {
		host, port, _ := splitServer(s) // validated
		out = append(out, constant.ServerConfig{
			Scheme: "http", ContextPath: "/nacos", IpAddr: host, Port: port, GrpcPort: port + 1000,
		})
	}
	return out
}

// namingCacheOff names the empty regular file given to the naming client as
// its cache directory (see clientParams).
const namingCacheOff = "naming-cache-off"

// clientParams builds the SDK parameters of the naming and the config
// client of namespace ns.
func (w *Watcher) clientParams(ns string) (naming, config vo.NacosClientParam, err error) {
	servers := w.servers
	// Files of the SDK (config snapshots, its log until our logger
	// replaces it) go to the cache directory, one per namespace.
	dir := filepath.Join(w.cfg.CacheDir, "ns-"+cmpOr(ns, publicNamespace))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return naming, config, fmt.Errorf("nacos: cache dir: %w", err)
	}
	cc := constant.ClientConfig{
		NamespaceId:         ns,
		AppName:             "dubbomesh",
		TimeoutMs:           uint64(w.cfg.RequestTimeout.Milliseconds()),
		CacheDir:            filepath.Join(dir, "cache"),
		LogDir:              filepath.Join(dir, "log"),
		LogLevel:            "warn",
		NotLoadCacheAtStart: true, // never start from a stale disk copy
		// Report a service that lost its last instance: without this the
		// SDK silently keeps the old list.
		UpdateCacheWhenEmpty: true,
		DisableUseSnapShot:   true,
		Username:             w.cfg.Username,
		Password:             w.cfg.Password,
		AccessKey:            w.cfg.AccessKey,
		SecretKey:            w.cfg.SecretKey,
	}
	// The naming client writes every new service list it receives to a
	// file of its cache directory (nacos-sdk-go v2.3.2,
	// ServiceInfoHolder.ProcessService), which it would read back only at
	// start, and NotLoadCacheAtStart turns that off: write-only files that
	// cost ~0.5 ms of file creation per service, most of a cold sync of
	// thousands of services. So its cache directory is an empty regular
	// file: every write fails at once (ENOTDIR) and the SDK goes on with its
	// in-memory cache, which is what the Watcher reads. The config client
	// keeps its cache.
	off, err := blockedDir(filepath.Join(dir, namingCacheOff))
	if err != nil {
		return naming, config, err
	}
	ncc := cc
	ncc.CacheDir = off
	return vo.NacosClientParam{ClientConfig: &ncc, ServerConfigs: servers},
		vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers}, nil
}

// blockedDir makes path an empty regular file, under which nothing can be
// created, and returns it.
func blockedDir(path string) (string, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		return path, nil
	}
	// Missing, or not a regular file (put there by hand): replace it. A
	// failure here shows in WriteFile's error.
	_ = os.RemoveAll(path)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return "", fmt.Errorf("nacos: cache dir: %w", err)
	}
	return path, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// connect creates the SDK clients of namespace ns. The SDK connects in the
// background: an unreachable server is not an error here.
func (w *Watcher) connect(ns string) (*nsClients, error) {
	namingParam, configParam, err := w.clientParams(ns)
	if err != nil {
		return nil, err
	}
	c := &nsClients{ns: ns}
	c.naming, err = clients.NewNamingClient(namingParam)
	w.routeSDKLog()
	if err != nil {
		return nil, fmt.Errorf("nacos: naming client for namespace %q: %w", ns, err)
	}
	c.config, err = clients.NewConfigClient(configParam)
	w.routeSDKLog()
	if err != nil {
		c.close()
		return nil, fmt.Errorf("nacos: config client for namespace %q: %w", ns, err)
	}
	return c, nil
}

// routeSDKLog points the SDK's process-wide logger at ours. Every client
// creation resets it to a file logger, so this follows each one. The SDK
// has one logger per process, so with several Nacos sources its lines go to
// the newest watcher's logger (labelled "nacos-sdk", not a source) and are
// redacted with the credentials of every source created so far.
func (w *Watcher) routeSDKLog() {
	sdkSecrets.add(w.cfg.Password, w.cfg.SecretKey, w.cfg.AccessKey)
	sdklogger.SetLogger(sdkLogger{log: w.base.Log.With("from", "nacos-sdk")})
}

// secretSet holds every credential any Nacos source of the process uses:
// the SDK's logger is process-wide, so its redaction must be too.
type secretSet struct {
	mu       sync.Mutex
	secrets  map[string]bool
	replacer *strings.Replacer
}

var sdkSecrets = &secretSet{secrets: map[string]bool{}, replacer: strings.NewReplacer()}

func (s *secretSet) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if v != "" {
			s.secrets[v] = true
		}
	}
	var pairs []string
	for v := range s.secrets {
		pairs = append(pairs, v, "***")
	}
	s.replacer = strings.NewReplacer(pairs...)
}

// accessToken matches the token the SDK got by logging in, as its debug
// lines print request headers (key:"accessToken" value:"...").
var accessToken = regexp.MustCompile(`(?i)(accessToken"?\s*(?:value:\s*"|[:=]\s*"?))[^"\s,}>]+`)

func (s *secretSet) redact(msg string) string {
	s.mu.Lock()
	r := s.replacer
	s.mu.Unlock()
	return accessToken.ReplaceAllString(r.Replace(msg), "${1}***")
}

// sdkLogger adapts slog to the SDK's logger interface. Everything goes to
// debug level (the SDK is loud about normal events; the Watcher logs what
// matters itself), with credentials and access tokens removed. Nothing is
// formatted unless debug is enabled: the SDK logs every service update.
type sdkLogger struct {
	log *slog.Logger
}

// namingCacheWriteFailed starts the SDK's line for a service list it could
// not write to its cache directory: every update, by design (see
// clientParams).
const namingCacheWriteFailed = "failed to write name cache"

func (l sdkLogger) enabled() bool { return l.log.Enabled(context.Background(), slog.LevelDebug) }

func (l sdkLogger) out(level string, msg string) {
	l.log.Debug(sdkSecrets.redact(msg), "sdk_level", level)
}

func (l sdkLogger) print(level string, args []any) {
	if l.enabled() {
		l.out(level, fmt.Sprint(args...))
	}
}

func (l sdkLogger) printf(level, format string, args []any) {
	sdkRefusals.record(format, args) // at every level: see refused.go
	if l.enabled() && !strings.HasPrefix(format, namingCacheWriteFailed) {
		l.out(level, fmt.Sprintf(format, args...))
	}
}

func (l sdkLogger) Info(args ...any)                  { l.print("info", args) }
func (l sdkLogger) Warn(args ...any)                  { l.print("warn", args) }
func (l sdkLogger) Error(args ...any)                 { l.print("error", args) }
func (l sdkLogger) Debug(args ...any)                 { l.print("debug", args) }
func (l sdkLogger) Infof(format string, args ...any)  { l.printf("info", format, args) }
func (l sdkLogger) Warnf(format string, args ...any)  { l.printf("warn", format, args) }
func (l sdkLogger) Errorf(format string, args ...any) { l.printf("error", format, args) }
func (l sdkLogger) Debugf(format string, args ...any) { l.printf("debug", format, args) }

var _ sdklogger.Logger = sdkLogger{}
