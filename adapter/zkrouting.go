package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// zkRoot is where dubbo-go's ZooKeeper config center keeps its keys: the
// routing key is the node {zkRoot}/{group}/{key}.
const zkRoot = "/dubbo/config"

// zkRouting watches the routing node in ZooKeeper and applies each value
// it holds. It is used instead of dubbo-go v3.3.2's ZooKeeper config
// center, whose Destroy never returns (its configuration listener adds to a
// WaitGroup it never marks done), so that client could never be stopped.
type zkRouting struct {
	servers []string
	path    string
	apply   func(string)
	log     *slog.Logger
}

// retryWait is how long the watch waits after a ZooKeeper error.
const retryWait = time.Second

// start connects and watches until ctx is done; the returned channel is
// closed once the watch has ended and the connection is closed. It waits
// up to firstWait for the node's current value to be applied.
func (z *zkRouting) start(ctx context.Context, firstWait time.Duration) (<-chan struct{}, error) {
	conn, events, err := zk.Connect(z.servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkLogger{z.log}))
	if err != nil {
		return nil, fmt.Errorf("config center zookeeper %v: %w", z.servers, err)
	}
	first := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer conn.Close()
		z.loop(ctx, conn, events, first)
	}()
	select {
	case <-first:
	case <-time.After(firstWait):
		z.log.Warn("config center not answering yet; the routing key applies once it does", "servers", z.servers, "key", z.path)
	}
	return done, nil
}

func (z *zkRouting) loop(ctx context.Context, conn *zk.Conn, events <-chan zk.Event, first chan struct{}) {
	signalled := false
	firstDone := func() {
		if !signalled {
			signalled = true
			close(first)
		}
	}
	defer firstDone()
	go func() { // session events are not needed, but must be drained
		for range events {
		}
	}()
	var last string
	present := false
	for ctx.Err() == nil {
		data, _, ch, err := conn.GetW(z.path)
		if errors.Is(err, zk.ErrNoNode) {
			if present {
				z.log.Warn("routing key deleted from the config center; keeping the routing in force", "key", z.path)
				present = false
			}
			var ok bool
			ok, _, ch, err = conn.ExistsW(z.path)
			if err == nil && ok {
				continue // created meanwhile
			}
		} else if err == nil {
			present = true
			if v := string(data); v != last && strings.TrimSpace(v) != "" {
				last = v
				z.apply(v)
			}
		}
		firstDone()
		if err != nil {
			if ctx.Err() == nil {
				z.log.Warn("config center watch failed; retrying", "key", z.path, "error", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(retryWait):
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-ch:
		}
	}
}

// zkLogger sends go-zookeeper's log lines to the adapter's logger.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
