package source

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// Options are a source's registry.SourceOptions plus what only tests set.
type Options struct {
	registry.SourceOptions
	Retry Backoff // zero: DefaultBackoff
}

// Base is what a source's Watcher holds besides its configuration.
type Base struct {
	Log     *slog.Logger
	Metrics *Metrics
	Clock   clock.WithTicker
	Retry   Backoff

	running atomic.Bool
}

// Setup applies opts and the defaults, and creates the collectors of the
// source named name; component ("zookeeper", "nacos") prefixes errors and
// labels log lines.
func Setup(component, name string, opts []registry.SourceOption) (*Base, error) {
	var o Options
	for _, opt := range opts {
		opt(&o.SourceOptions)
	}
	return New(component, name, o)
}

// Enter marks the source running, or returns busy if it already is. Call
// Leave when Run returns.
func (b *Base) Enter(busy error) error {
	if !b.running.CompareAndSwap(false, true) {
		return busy
	}
	return nil
}

// Leave marks the source stopped.
func (b *Base) Leave() { b.running.Store(false) }

// New applies the defaults to o and creates the collectors of the source
// named name; component ("zookeeper", "nacos") prefixes errors and labels
// log lines.
func New(component, name string, o Options) (*Base, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Retry == (Backoff{}) {
		o.Retry = DefaultBackoff
	}
	m, err := NewMetrics(name, o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("%s: register metrics: %w", component, err)
	}
	return &Base{
		Log:     o.Logger.With("component", component, "source", name),
		Metrics: m,
		Clock:   o.Clock,
		Retry:   o.Retry,
	}, nil
}

// Skipped logs and counts a registration that is not turned into
// endpoints; fallback is the reason of an error that is not a
// endpoint.SkipError.
func (b *Base) Skipped(err error, fallback string, attrs ...any) {
	reason := endpoint.Reason(err, fallback)
	b.Metrics.Skipped.WithLabelValues(reason).Inc()
	attrs = append(attrs, "reason", reason, "error", err)
	if endpoint.Benign(reason) {
		b.Log.Debug("registry entry skipped", attrs...)
		return
	}
	b.Log.Warn("registry entry skipped", attrs...)
}

// InvalidParam logs and counts a provider parameter that could not be
// parsed (see Metrics.InvalidParam).
func (b *Base) InvalidParam(err error, attrs ...any) { b.Metrics.InvalidParam(b.Log, err, attrs...) }

// CheckConfig checks what every source's configuration has: a name
// without surrounding spaces and at least one server address host[:port]
// (defaultPort when the port is missing). kind ("ZooKeeper", "Nacos")
// names the registry in the messages, which say what a user has to fix.
func CheckConfig(kind, name string, servers []string, defaultPort uint32) error {
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("name %q must not start or end with spaces", name)
	}
	if len(servers) == 0 {
		return fmt.Errorf("servers: at least one %s address is required, e.g. \"127.0.0.1:%d\"", kind, defaultPort)
	}
	for _, s := range servers {
		if _, _, err := endpoint.SplitServer(s, defaultPort); err != nil {
			return fmt.Errorf("servers: %w", err)
		}
	}
	return nil
}
