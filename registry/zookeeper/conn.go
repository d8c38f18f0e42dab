package zookeeper

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

// conn returns the current client.
func (r *run) conn() *zk.Conn { return r.client.Load() }

// dial creates a client (a new session) and makes it the current one. The
// watches of the previous client are forgotten: the next listing arms them
// again. With credentials, the session gets its digest before anything is
// read (see startAuth).
func (r *run) dial(ctx context.Context) error {
	epoch, old := r.tracker.nextEpoch()
	conn, _, err := zk.Connect(r.w.cfg.Servers, r.w.cfg.SessionTimeout,
		zk.WithHostProvider(&hostList{}),
		zk.WithLogger(zkLogger{log: r.w.base.Log, lastErr: &r.tracker.lastErr}), zk.WithLogInfo(false),
		zk.WithEventCallback(r.tracker.callback(epoch)))
	if err != nil {
		r.tracker.rollback(old)
		return fmt.Errorf("zookeeper: connect to %v: %w", r.w.cfg.Servers, err)
	}
	r.client.Store(conn)
	clear(r.armed)
	clear(r.prefetched)
	r.startAuth(ctx, conn)
	return nil
}

// replaceSession gives up a session the servers keep refusing and opens a
// new one, whose listing then reports what the registry holds now (with
// removals held back for the resync grace, see newSession).
func (r *run) replaceSession(ctx context.Context) {
	old := r.conn()
	r.w.base.Log.Warn("ZooKeeper keeps refusing the session (a server that has seen fewer transactions than this client: "+
		"restarted with its data lost?); opening a new session and re-listing, keeping the last-known state meanwhile",
		"last_error", r.tracker.lastError())
	if err := r.dial(ctx); err != nil {
		r.w.base.Log.Error("cannot open a new ZooKeeper session; keeping the old one", "error", err)
		return
	}
	r.replaced = true
	r.w.base.Metrics.SessionResets.Inc()
	r.bg.Go(old.Close) // may wait up to a second for the server
}

// startAuth adds the digest credentials to conn's session, retrying with
// backoff (the request fails while no server is reachable). Listings wait
// for it (r.authed); the client sends the credentials again by itself on
// every reconnect of the same client.
func (r *run) startAuth(ctx context.Context, conn *zk.Conn) {
	if r.w.cfg.Username == "" {
		r.authed, r.authDone = true, nil
		return
	}
	done := make(chan struct{})
	r.authed, r.authDone = false, done
	auth := []byte(r.w.cfg.Username + ":" + r.w.cfg.Password)
	log, clk, retry := r.w.base.Log, r.w.base.Clock, r.w.base.Retry
	r.bg.Go(func() {
		for attempt := 1; ; attempt++ {
			err := conn.AddAuth("digest", auth)
			if err == nil {
				close(done)
				return
			}
			if errors.Is(err, zk.ErrClosing) || ctx.Err() != nil {
				return
			}
			// The client's errors never hold the credentials.
			log.Debug("adding the digest credentials to the session failed; retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-clk.After(retry.Delay(attempt)):
			}
		}
	})
}

// notAuthorized is the error of a node the session may not read.
func (r *run) notAuthorized(op, p string) error {
	if r.w.cfg.Username == "" {
		return fmt.Errorf("%w to %s %s: its ACL needs credentials; give the registry URL username= and password= (or passwordFile=)", ErrNotAuthorized, op, p)
	}
	return fmt.Errorf("%w to %s %s: its ACL does not let the configured digest user read it; check username and password", ErrNotAuthorized, op, p)
}

// newSession notes the session of a listing about to start. A session
// other than the previous one (the old expired, or was replaced) may meet
// a registry restored from nothing, where providers register again over
// the next seconds: for the resync grace, removals are held back.
func (r *run) newSession() {
	id := r.conn().SessionID()
	prev := r.sessionID
	r.sessionID = id
	if prev == 0 || id == prev || !r.out.IsSynced() || r.w.cfg.ResyncGrace <= 0 {
		return
	}
	r.w.base.Log.Info("new registry session; holding back removals for the resync grace", "resync_grace", r.w.cfg.ResyncGrace)
	r.grace.Start(r.w.cfg.ResyncGrace)
}
