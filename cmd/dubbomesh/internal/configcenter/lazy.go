package configcenter

import (
	"context"
	"log/slog"
	"path"
	"strings"
	"sync"
)

// Lazy is a Store that connects on first use, and again on the next use
// after a failed connect, so that a config center that is down when
// dubbomesh starts delays nothing but the console's routing calls.
type Lazy struct {
	url string
	log *slog.Logger
	mu  sync.Mutex
	s   Store
}

var _ Store = (*Lazy)(nil)

// NewLazy returns a Store for url (see Open) that connects when first
// used.
func NewLazy(url string, log *slog.Logger) *Lazy { return &Lazy{url: url, log: log} }

func (l *Lazy) store(ctx context.Context) (Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		s, err := Open(ctx, l.url, l.log)
		if err != nil {
			return nil, err
		}
		l.s = s
	}
	return l.s, nil
}

// Get implements Store.
func (l *Lazy) Get(ctx context.Context, group, key string) (Value, error) {
	s, err := l.store(ctx)
	if err != nil {
		return Value{}, err
	}
	return s.Get(ctx, group, key)
}

// Put implements Store.
func (l *Lazy) Put(ctx context.Context, group, key string, data []byte, version string) (string, error) {
	s, err := l.store(ctx)
	if err != nil {
		return "", err
	}
	return s.Put(ctx, group, key, data, version)
}

// Where implements Store, without connecting.
func (l *Lazy) Where(group, key string) string {
	if strings.HasPrefix(strings.ToLower(l.url), "nacos://") {
		return (&Nacos{}).Where(group, key)
	}
	return path.Join(ZKRoot, group, key)
}

// Close closes the connection, if one was made.
func (l *Lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		return nil
	}
	err := l.s.Close()
	l.s = nil
	return err
}
