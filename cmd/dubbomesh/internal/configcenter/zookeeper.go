package configcenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZKRoot is where dubbo-go's ZooKeeper config center, and so the adapter,
// keeps its keys: {ZKRoot}/{group}/{key}.
const ZKRoot = "/dubbo/config"

// ZooKeeper is a Store on a ZooKeeper ensemble.
type ZooKeeper struct {
	conn *zk.Conn
	acl  []zk.ACL // of the nodes it creates
}

var _ Store = (*ZooKeeper)(nil)

// ZooKeeperAuth holds digest credentials (the registry URL's username and
// password or passwordFile); empty means none. With credentials, the nodes
// the store creates can be changed only by that user and read by everyone
// (the apps' config-center clients read them without credentials);
// without, anyone may change them.
type ZooKeeperAuth struct{ Username, Password string }

func (a ZooKeeperAuth) acl() []zk.ACL {
	if a.Username == "" {
		return zk.WorldACL(zk.PermAll)
	}
	return append(zk.DigestACL(zk.PermAll, a.Username, a.Password), zk.WorldACL(zk.PermRead)...)
}

// DialZooKeeper connects to servers (host:port) and waits up to timeout
// (and ctx) for a session.
func DialZooKeeper(ctx context.Context, servers []string, timeout time.Duration, auth ZooKeeperAuth, log *slog.Logger) (*ZooKeeper, error) {
	conn, events, err := zk.Connect(servers, timeout, zk.WithLogInfo(false), zk.WithLogger(zkLogger{log}))
	if err != nil {
		return nil, fmt.Errorf("configcenter: zookeeper %v: %w", servers, err)
	}
	if auth.Username != "" {
		// Queued before the session's first request, and sent again by the
		// client on every reconnect.
		if err := conn.AddAuth("digest", []byte(auth.Username+":"+auth.Password)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("configcenter: zookeeper %v: digest credentials of %q refused: %w", servers, auth.Username, err)
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				conn.Close()
				return nil, fmt.Errorf("configcenter: zookeeper %v: connection closed", servers)
			}
			if ev.State == zk.StateHasSession {
				go func() { // later session events are not needed, but must be drained
					for range events {
					}
				}()
				return &ZooKeeper{conn: conn, acl: auth.acl()}, nil
			}
		case <-t.C:
			conn.Close()
			return nil, fmt.Errorf("configcenter: zookeeper %v: no session after %v", servers, timeout)
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("configcenter: zookeeper %v: %w", servers, ctx.Err())
		}
	}
}

// Where is the node path of key.
func (z *ZooKeeper) Where(group, key string) string { return path.Join(ZKRoot, group, key) }

// Get reads the node.
func (z *ZooKeeper) Get(_ context.Context, group, key string) (Value, error) {
	data, st, err := z.conn.Get(z.Where(group, key))
	if errors.Is(err, zk.ErrNoNode) {
		return Value{}, fmt.Errorf("%w: %s", ErrNotFound, z.Where(group, key))
	}
	if err != nil {
		return Value{}, fmt.Errorf("configcenter: zookeeper get %s: %w", z.Where(group, key), err)
	}
	return Value{Data: data, Version: strconv.Itoa(int(st.Version))}, nil
}

// Put sets the node at version, or creates it (and its parents) for
// version "".
func (z *ZooKeeper) Put(_ context.Context, group, key string, data []byte, version string) (string, error) {
	p := z.Where(group, key)
	if version == "" {
		if err := z.parents(path.Dir(p)); err != nil {
			return "", err
		}
		_, err := z.conn.Create(p, data, 0, z.acl)
		if errors.Is(err, zk.ErrNodeExists) {
			return "", fmt.Errorf("%w: %s was created meanwhile", ErrConflict, p)
		}
		if err != nil {
			return "", fmt.Errorf("configcenter: zookeeper create %s: %w", p, err)
		}
		return "0", nil
	}
	v, err := strconv.ParseInt(version, 10, 32)
	if err != nil {
		return "", fmt.Errorf("configcenter: zookeeper %s: version %q is not a node version", p, version)
	}
	st, err := z.conn.Set(p, data, int32(v))
	switch {
	case errors.Is(err, zk.ErrBadVersion):
		return "", fmt.Errorf("%w: %s is no longer at version %s", ErrConflict, p, version)
	case errors.Is(err, zk.ErrNoNode):
		return "", fmt.Errorf("%w: %s was deleted meanwhile", ErrConflict, p)
	case err != nil:
		return "", fmt.Errorf("configcenter: zookeeper set %s: %w", p, err)
	}
	return strconv.Itoa(int(st.Version)), nil
}

// parents creates p and its missing ancestors, empty.
func (z *ZooKeeper) parents(p string) error {
	if p == "/" {
		return nil
	}
	ok, _, err := z.conn.Exists(p)
	if err != nil {
		return fmt.Errorf("configcenter: zookeeper exists %s: %w", p, err)
	}
	if ok {
		return nil
	}
	if err := z.parents(path.Dir(p)); err != nil {
		return err
	}
	if _, err := z.conn.Create(p, nil, 0, z.acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("configcenter: zookeeper create %s: %w", p, err)
	}
	return nil
}

// Close closes the session.
func (z *ZooKeeper) Close() error {
	z.conn.Close()
	return nil
}

// zkLogger sends go-zookeeper's log lines to the logger, at debug.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
