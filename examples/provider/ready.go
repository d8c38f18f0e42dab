package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// waitReady blocks until the Triple port accepts connections and every node
// the registration mode writes is in ZooKeeper (or Nacos): dubbo-go's Serve offers no
// "registered" signal, and it opens the port before it registers the
// application instance.
func waitReady(ctx context.Context, cfg Config, log *slog.Logger) error {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	if err := retry(ctx, func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		return fmt.Errorf("triple port %s: %w", addr, err)
	}

	for _, r := range cfg.Registries() {
		if err := waitRegistry(ctx, cfg, r, log); err != nil {
			return err
		}
	}
	return nil
}

// waitRegistry waits until the registration shows in one registry.
func waitRegistry(ctx context.Context, cfg Config, registryURL string, log *slog.Logger) error {
	u, err := url.Parse(registryURL)
	if err != nil {
		return err
	}
	if u.Scheme == "nacos" {
		return waitNacos(ctx, cfg, u)
	}
	conn, _, err := zk.Connect(strings.Split(u.Host, ","), 10*time.Second,
		zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false))
	if err != nil {
		return fmt.Errorf("zookeeper %s: %w", u.Host, err)
	}
	defer conn.Close()
	for _, check := range registrationChecks(cfg) {
		if err := retry(ctx, func() error { return check(conn) }); err != nil {
			return err
		}
	}
	return nil
}

// registrationChecks returns one check per node the registration writes.
func registrationChecks(cfg Config) []func(*zk.Conn) error {
	port := strconv.Itoa(cfg.Port)
	var checks []func(*zk.Conn) error
	if cfg.Register == RegisterApplication || cfg.Register == RegisterAll {
		// /services/{app}/{ip}:{port}, the Curator service instance.
		dir := "/services/" + cfg.App
		checks = append(checks, childCheck(dir, func(name string) bool {
			return strings.HasSuffix(name, ":"+port)
		}))
	}
	if cfg.Register == RegisterInterface || cfg.Register == RegisterAll {
		// /dubbo/{interface}/providers/{url-encoded tri://ip:port/...}.
		for _, iface := range []string{GreeterInterface, EchoInterface} {
			dir := "/dubbo/" + iface + "/providers"
			checks = append(checks, childCheck(dir, func(name string) bool {
				dec, err := url.PathUnescape(name)
				return err == nil && strings.Contains(dec, ":"+port+"/"+iface+"?")
			}))
		}
	}
	return checks
}

// childCheck wants a child of dir that match accepts.
func childCheck(dir string, match func(string) bool) func(*zk.Conn) error {
	return func(conn *zk.Conn) error {
		children, _, err := conn.Children(dir)
		if err != nil {
			return fmt.Errorf("zookeeper %s: %w", dir, err)
		}
		for _, c := range children {
			if match(c) {
				return nil
			}
		}
		return fmt.Errorf("zookeeper %s: this instance is not registered yet", dir)
	}
}

// retry calls f every 50 ms until it succeeds or ctx is done.
func retry(ctx context.Context, f func() error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// zkLogger sends go-zookeeper's log lines to slog at debug level.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug(fmt.Sprintf(format, args...), "client", "zookeeper")
}
