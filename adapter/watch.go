package adapter

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/dubbomesh/dubbomesh/router"
)

// fileWatcher re-reads the routing file when it changes and applies it. An
// unreadable or invalid file is logged and ignored: the routing in force
// stays.
type fileWatcher struct {
	path   string
	router *router.Router
	log    *slog.Logger
}

// settle coalesces the several events one save makes.
const settle = 50 * time.Millisecond

// start watches the file's directory (editors and config-map updates
// replace files by rename) until ctx is done; the returned channel is
// closed when the watch has ended and its resources are released.
func (w *fileWatcher) start(ctx context.Context) (<-chan struct{}, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(filepath.Dir(w.path)); err != nil {
		fw.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.loop(ctx, fw)
	}()
	return done, nil
}

func (w *fileWatcher) loop(ctx context.Context, fw *fsnotify.Watcher) {
	defer fw.Close()
	name := filepath.Clean(w.path)
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fw.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) == name && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				if timer != nil {
					timer.Stop()
				}
				timer = time.NewTimer(settle)
				fire = timer.C
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return
			}
			w.log.Warn("routing file watch error", "error", err)
		case <-fire:
			timer, fire = nil, nil
			w.reload()
		}
	}
}

func (w *fileWatcher) reload() {
	cfg, err := readRouting(w.path)
	if err != nil {
		w.log.Error("routing file rejected; keeping the routing in force", "file", w.path, "error", err)
		return
	}
	if err := w.router.Update(cfg); err != nil {
		w.log.Error("routing file rejected; keeping the routing in force", "file", w.path, "error", err)
	}
}
