package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/config_center"
	"dubbo.apache.org/dubbo-go/v3/remoting"

	"github.com/dubbomesh/dubbomesh/router"
)

// Defaults of the config-center routing key.
const (
	DefaultRoutingGroup = "dubbomesh"
	DefaultRoutingKey   = "routing"
)

// ConfigCenter names a key in a dubbo-go config center (ZooKeeper or Nacos)
// holding the routing YAML. With ZooKeeper the key is the node
// /dubbo/config/{Group}/{Key}; with Nacos it is dataId Key in group Group.
type ConfigCenter struct {
	URL   string `yaml:"url"`   // e.g. zookeeper://127.0.0.1:2181 or nacos://127.0.0.1:8848
	Group string `yaml:"group"` // default DefaultRoutingGroup
	Key   string `yaml:"key"`   // default DefaultRoutingKey
}

// configListener applies routing published under the key.
type configListener struct {
	router *router.Router
	log    *slog.Logger
	where  string
}

// Process implements config_center.ConfigurationListener.
func (l *configListener) Process(ev *config_center.ConfigChangeEvent) {
	if ev.ConfigType == remoting.EventTypeDel {
		l.log.Warn("routing key deleted from the config center; keeping the routing in force", "key", l.where)
		return
	}
	l.apply(fmt.Sprint(ev.Value))
}

func (l *configListener) apply(value string) {
	cfg, err := ParseRouting(strings.NewReader(value))
	if err != nil {
		l.log.Error("routing from the config center rejected; keeping the routing in force", "key", l.where, "error", err)
		return
	}
	if err := l.router.Update(cfg); err != nil {
		l.log.Error("routing from the config center rejected; keeping the routing in force", "key", l.where, "error", err)
	}
}

// watchConfigCenter applies the key's current value and every change to it
// until ctx is done; the returned channel is closed once the watch has
// ended and its client is closed. A ZooKeeper config center is watched
// directly (zkRouting: the node /dubbo/config/{group}/{key}, as dubbo-go's
// config center keeps it); any other goes through dubbo-go's own
// config-center client (the app imports the implementation, e.g. dubbo-go's
// config_center/nacos).
func watchConfigCenter(ctx context.Context, cc ConfigCenter, r *router.Router, log *slog.Logger) (<-chan struct{}, error) {
	group, key := cc.Group, cc.Key
	if group == "" {
		group = DefaultRoutingGroup
	}
	if key == "" {
		key = DefaultRoutingKey
	}
	u, err := common.NewURL(cc.URL)
	if err != nil {
		return nil, fmt.Errorf("config center %q: %w", cc.URL, err)
	}
	l := &configListener{router: r, log: log, where: group + "/" + key}
	if u.Protocol == "zookeeper" {
		z := &zkRouting{servers: strings.Split(u.Location, ","), path: zkRoot + "/" + group + "/" + key, apply: l.apply, log: log}
		done, err := z.start(ctx, 10*time.Second)
		if err != nil {
			return nil, err
		}
		log.Info("watching routing in the config center", "url", u.Location, "key", z.path)
		return done, nil
	}
	u.SetParam(constant.ConfigNamespaceKey, group)
	u.SetParam(constant.ConfigGroupKey, group)
	factory, err := extension.GetConfigCenterFactory(u.Protocol)
	if err != nil {
		return nil, fmt.Errorf("config center %q: %w (import dubbo-go's config_center/%s)", cc.URL, err, u.Protocol)
	}
	dc, err := factory.GetDynamicConfiguration(u)
	if err != nil {
		return nil, fmt.Errorf("config center %q: %w", cc.URL, err)
	}
	dc.AddListener(key, l, config_center.WithGroup(group))
	stop := func() {
		dc.RemoveListener(key, l, config_center.WithGroup(group))
		// dubbo-go's config centers have Destroy (not in the interface):
		// it closes their client and waits for their watch goroutines.
		if d, ok := dc.(interface{ Destroy() }); ok {
			d.Destroy()
		}
	}
	value, err := dc.GetProperties(key, config_center.WithGroup(group))
	if err != nil {
		stop()
		return nil, fmt.Errorf("config center %q: read %s: %w", cc.URL, l.where, err)
	}
	if value != "" {
		l.apply(value)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		stop()
	}()
	log.Info("watching routing in the config center", "url", u.Location, "key", l.where)
	return done, nil
}
