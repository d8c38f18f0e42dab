package configcenter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
)

// Open connects to the config center at url, written as a registry URL
// (config.ParseRegistry: zookeeper://host:port[,host:port...] or
// nacos://host:port?namespace=...&username=...&password=...), the same
// address the adapter's configCenter.url names.
func Open(ctx context.Context, url string, log *slog.Logger) (Store, error) {
	r, err := config.ParseRegistry(url, 0)
	if err != nil {
		return nil, fmt.Errorf("configcenter: %w", err)
	}
	switch r.Kind {
	case "zookeeper":
		return DialZooKeeper(ctx, r.ZooKeeper.Servers, sessionTimeout(r),
			ZooKeeperAuth{Username: r.ZooKeeper.Username, Password: r.ZooKeeper.Password}, log)
	case "nacos":
		n := r.Nacos
		if len(n.Namespaces) > 1 {
			return nil, fmt.Errorf("configcenter: %s: give one namespace, not %d", config.Redact(url), len(n.Namespaces))
		}
		ns := ""
		if len(n.Namespaces) == 1 {
			ns = n.Namespaces[0]
		}
		return DialNacos(NacosOptions{Servers: n.Servers, Namespace: ns, Username: n.Username, Password: n.Password,
			AccessKey: n.AccessKey, SecretKey: n.SecretKey, Timeout: n.RequestTimeout})
	default:
		return nil, fmt.Errorf("configcenter: %s: unsupported kind %q", config.Redact(url), r.Kind)
	}
}

func sessionTimeout(r config.Registry) time.Duration {
	if d := r.ZooKeeper.SessionTimeout; d > 0 {
		return d
	}
	return 10 * time.Second
}
