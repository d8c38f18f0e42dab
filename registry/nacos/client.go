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

// clientParam builds the SDK parameters for namespace ns.
func (w *Watcher) clientParam(ns string) (vo.NacosClientParam, error) {
	servers := make([]constant.ServerConfig, 0, len(w.cfg.Servers))
	for _, s := range w.cfg.Servers {
		host, port, err := splitServer(s)
		if err != nil {
			return vo.NacosClientParam{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		servers = append(servers, constant.ServerConfig{
			Scheme: "http", ContextPath: "/nacos", IpAddr: host, Port: port, GrpcPort: port + 1000,
		})
	}
	// Files of the SDK (service cache, config snapshots, its log until our
	// logger replaces it) go to the cache directory, one per namespace.
	dir := filepath.Join(w.cfg.CacheDir, "ns-"+cmpOr(ns, publicNamespace))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return vo.NacosClientParam{}, fmt.Errorf("nacos: cache dir: %w", err)
	}
	cc := &constant.ClientConfig{
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
	return vo.NacosClientParam{ClientConfig: cc, ServerConfigs: servers}, nil
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
	param, err := w.clientParam(ns)
	if err != nil {
		return nil, err
	}
	c := &nsClients{ns: ns}
	c.naming, err = clients.NewNamingClient(param)
	w.routeSDKLog()
	if err != nil {
		return nil, fmt.Errorf("nacos: naming client for namespace %q: %w", ns, err)
	}
	c.config, err = clients.NewConfigClient(param)
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
	sdklogger.SetLogger(sdkLogger{log: w.log.With("from", "nacos-sdk")})
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
// matters itself), with credentials and access tokens removed.
type sdkLogger struct {
	log *slog.Logger
}

func (l sdkLogger) out(level string, msg string) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(sdkSecrets.redact(msg), "sdk_level", level)
	}
}

func (l sdkLogger) Info(args ...any)                  { l.out("info", fmt.Sprint(args...)) }
func (l sdkLogger) Warn(args ...any)                  { l.out("warn", fmt.Sprint(args...)) }
func (l sdkLogger) Error(args ...any)                 { l.out("error", fmt.Sprint(args...)) }
func (l sdkLogger) Debug(args ...any)                 { l.out("debug", fmt.Sprint(args...)) }
func (l sdkLogger) Infof(format string, args ...any)  { l.out("info", fmt.Sprintf(format, args...)) }
func (l sdkLogger) Warnf(format string, args ...any)  { l.out("warn", fmt.Sprintf(format, args...)) }
func (l sdkLogger) Errorf(format string, args ...any) { l.out("error", fmt.Sprintf(format, args...)) }
func (l sdkLogger) Debugf(format string, args ...any) { l.out("debug", fmt.Sprintf(format, args...)) }

var _ sdklogger.Logger = sdkLogger{}
