package configcenter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	sdklogger "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// Nacos is a Store on a Nacos 2.x cluster: key is the dataId. The version
// is the MD5 of the content, which Nacos checks on a publish (casMd5).
type Nacos struct {
	client config_client.IConfigClient
	dir    string
}

var _ Store = (*Nacos)(nil)

// NacosOptions are the client's settings; Servers are host:port HTTP
// addresses (gRPC on port+1000).
type NacosOptions struct {
	Servers              []string
	Namespace            string
	Username, Password   string
	AccessKey, SecretKey string
	Timeout              time.Duration
}

// DialNacos makes a config client. The SDK's files (cache, log) go to a
// temporary directory removed by Close; the SDK's process-wide logger is
// silenced, as it would otherwise write to that directory.
func DialNacos(o NacosOptions) (*Nacos, error) {
	servers := make([]constant.ServerConfig, 0, len(o.Servers))
	for _, s := range o.Servers {
		host, p, err := net.SplitHostPort(s)
		if err != nil {
			host, p = s, "8848"
		}
		port, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("configcenter: nacos server %q: bad port", s)
		}
		servers = append(servers, constant.ServerConfig{Scheme: "http", ContextPath: "/nacos", IpAddr: host, Port: port, GrpcPort: port + 1000})
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	dir, err := os.MkdirTemp("", "dubbomesh-configcenter-")
	if err != nil {
		return nil, fmt.Errorf("configcenter: nacos: %w", err)
	}
	ns := o.Namespace
	if ns == "public" {
		ns = ""
	}
	cc := constant.ClientConfig{
		NamespaceId: ns, AppName: "dubbomesh", TimeoutMs: uint64(o.Timeout.Milliseconds()),
		CacheDir: filepath.Join(dir, "cache"), LogDir: filepath.Join(dir, "log"), LogLevel: "error",
		NotLoadCacheAtStart: true, DisableUseSnapShot: true,
		Username: o.Username, Password: o.Password, AccessKey: o.AccessKey, SecretKey: o.SecretKey,
	}
	c, err := clients.NewConfigClient(vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers})
	sdklogger.SetLogger(silent{})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("configcenter: nacos %v: %w", o.Servers, err)
	}
	return &Nacos{client: c, dir: dir}, nil
}

// Where names the dataId and group.
func (n *Nacos) Where(group, key string) string { return "dataId " + key + " group " + group }

// Get reads the config; Nacos keeps no empty config, so empty content is
// ErrNotFound.
func (n *Nacos) Get(ctx context.Context, group, key string) (Value, error) {
	s, err := n.client.GetConfig(vo.ConfigParam{DataId: key, Group: group})
	// The SDK rate-limits queries of one key (a few per second) on the
	// client side; a history edit reads the key several times.
	for wait := 0; err != nil && strings.Contains(err.Error(), "is limited") && wait < 40; wait++ {
		select {
		case <-ctx.Done():
			return Value{}, fmt.Errorf("configcenter: nacos get %s: %w", n.Where(group, key), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		s, err = n.client.GetConfig(vo.ConfigParam{DataId: key, Group: group})
	}
	if err != nil {
		return Value{}, fmt.Errorf("configcenter: nacos get %s: %w", n.Where(group, key), err)
	}
	if s == "" {
		return Value{}, fmt.Errorf("%w: %s", ErrNotFound, n.Where(group, key))
	}
	return Value{Data: []byte(s), Version: md5Hex([]byte(s))}, nil
}

// Put publishes data with casMd5 = version, so Nacos refuses it when the
// content changed meanwhile. It also reads the key just before
// publishing and refuses when it is not at version: Nacos has no
// create-only publish (version ""), and a server that ignores casMd5 (the
// rnacos tests run against does) still gets the check, then with a
// window of one round trip.
func (n *Nacos) Put(ctx context.Context, group, key string, data []byte, version string) (string, error) {
	cur, err := n.Get(ctx, group, key)
	switch {
	case errors.Is(err, ErrNotFound):
		if version != "" {
			return "", fmt.Errorf("%w: %s was deleted meanwhile", ErrConflict, n.Where(group, key))
		}
	case err != nil:
		return "", err
	case cur.Version != version:
		return "", fmt.Errorf("%w: %s changed meanwhile", ErrConflict, n.Where(group, key))
	}
	ok, err := n.client.PublishConfig(vo.ConfigParam{DataId: key, Group: group, Content: string(data), CasMd5: version})
	if err != nil || !ok {
		if cur, gerr := n.Get(ctx, group, key); version != "" && gerr == nil && cur.Version != version {
			return "", fmt.Errorf("%w: %s changed meanwhile", ErrConflict, n.Where(group, key))
		}
		return "", fmt.Errorf("configcenter: nacos publish %s: %v (published %v)", n.Where(group, key), err, ok)
	}
	return md5Hex(data), nil
}

// Close closes the client and removes its files.
func (n *Nacos) Close() error {
	n.client.CloseClient()
	return os.RemoveAll(n.dir)
}

// silent drops the SDK's log lines (they may quote requests).
type silent struct{}

func (silent) Info(...any)           {}
func (silent) Warn(...any)           {}
func (silent) Error(...any)          {}
func (silent) Debug(...any)          {}
func (silent) Infof(string, ...any)  {}
func (silent) Warnf(string, ...any)  {}
func (silent) Errorf(string, ...any) {}
func (silent) Debugf(string, ...any) {}
