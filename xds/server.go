package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/dubbomesh/dubbomesh/internal/debounce"
	"github.com/dubbomesh/dubbomesh/registry"
)

var errNotReady = errors.New("xds: not ready: registry sources have not synced yet")

// Model is the versioned service model the server publishes; *registry.Merger
// implements it.
type Model interface {
	// Ready is closed once every source has synced.
	Ready() <-chan struct{}
	// Changed receives (coalesced) after services changed.
	Changed() <-chan struct{}
	// Drain returns the services changed since the previous call; a removed
	// service has no endpoints. It never blocks for long.
	Drain() []registry.Service
}

var _ Model = (*registry.Merger)(nil)

// Config configures the xDS server. It is the `xds:` block of dubbomesh's
// configuration file (yaml keys as tagged; Translation's keys sit in the
// same block), decoded as is.
type Config struct {
	// Address to listen on, e.g. "127.0.0.1:15010". Used by Run.
	Address     string      `yaml:"address"`
	Translation Translation `yaml:",inline"`
	// Debounce bounds coalescing of model changes into pushes.
	Debounce Debounce `yaml:"debounce"`
	// MaxMessageBytes bounds gRPC messages in both directions; large pushes
	// (100k endpoints) exceed gRPC's 4 MiB default.
	MaxMessageBytes int `yaml:"maxMessageBytes"`
	// TLS secures the server; the zero value is plain text.
	TLS TLS `yaml:"tls"`
}

// Debounce bounds how model changes coalesce into pushes: a push runs once
// changes have been quiet for Quiet, or Ceiling after the first unpushed
// change, whichever comes first; one push is in flight at a time, and a lone
// change is never delayed by more than Quiet. Zero fields take the defaults
// (DefaultQuiet, DefaultCeiling).
type Debounce struct {
	Quiet   time.Duration `yaml:"quiet"`
	Ceiling time.Duration `yaml:"ceiling"`
}

// Defaults used for zero fields by New.
const (
	DefaultAddress         = "127.0.0.1:15010"
	DefaultOutboundAddress = "127.0.0.1:15001"
	DefaultQuiet           = 10 * time.Millisecond
	DefaultCeiling         = 200 * time.Millisecond
	DefaultMaxMessageBytes = 256 << 20
)

func (c *Config) setDefaults() {
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	if c.Translation.OutboundAddress == "" {
		c.Translation.OutboundAddress = DefaultOutboundAddress
	}
	if c.Debounce.Quiet == 0 {
		c.Debounce.Quiet = DefaultQuiet
	}
	if c.Debounce.Ceiling == 0 {
		c.Debounce.Ceiling = max(DefaultCeiling, c.Debounce.Quiet)
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
}

// Validate reports settings a user has to fix. It reads no file: New
// loads the TLS files and reports those that do not load.
func (c Config) Validate() error {
	c.setDefaults()
	if _, _, err := splitHostPort(c.Address); err != nil {
		return fmt.Errorf("xds: listen address %q: %w", c.Address, err)
	}
	if err := c.Translation.Validate(); err != nil {
		return err
	}
	if err := c.Debounce.config().Validate(); err != nil {
		return fmt.Errorf("xds: %w", err)
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if c.MaxMessageBytes < 4<<20 {
		return fmt.Errorf("xds: max message size %d is below gRPC's 4 MiB default", c.MaxMessageBytes)
	}
	return nil
}

func (d Debounce) config() debounce.Config {
	return debounce.Config{Quiet: d.Quiet, Ceiling: d.Ceiling}
}

// Server publishes a Model over xDS.
type Server struct {
	cfg     Config
	model   Model
	log     *slog.Logger
	metrics *metrics
	caches  *caches
	gate    *gate
	hosts   *hostOwners
	pub     *publisher
	tls     *tlsReloader // nil: plain text
	// extensions serve non-Envoy types (WithExtension).
	extensions []Extension
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithRegisterer registers the server's metrics with r.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(s *Server) { s.metrics.register(r) }
}

// New returns a server for model. It serves nothing until Run or Serve.
func New(cfg Config, model Model, opts ...Option) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		model:   model,
		log:     slog.New(slog.DiscardHandler),
		metrics: newMetrics(),
	}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("component", "xds")
	if cfg.TLS.Enabled() {
		r, err := newTLSReloader(cfg.TLS, s.log, s.metrics.tlsReloadErrors)
		if err != nil {
			return nil, err
		}
		s.tls = r
	}
	s.caches = newCaches()
	s.gate = newGate(s.caches.mux(s.extensions))
	s.hosts = newHostOwners(s.cfg.Translation.host, lookupIn(model), s.log, s.metrics.hostConflicts)
	s.pub = newPublisher(&s.cfg.Translation, s.caches, s.log, s.metrics)
	return s, nil
}

// Ready reports whether the first complete state has been published.
func (s *Server) Ready() bool { return s.gate.isOpen() }

// Run listens on the configured address and serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("xds: listen: %w", err)
	}
	return s.Serve(ctx, lis)
}

// Serve serves xDS on lis until ctx is done, and publishes the model as it
// changes. It closes lis.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	if err := s.servePorts(ctx, g); err != nil {
		_ = lis.Close()
		return err
	}
	grpcServer := s.grpcServerFor(ctx, s.gate, s.observers())
	g.Go(func() error {
		s.log.Info("serving xDS", "address", lis.Addr().String())
		if err := grpcServer.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("xds: serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		stopped := make(chan struct{})
		go func() { grpcServer.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			grpcServer.Stop()
		}
		return nil
	})
	g.Go(func() error { return s.publishLoop(ctx) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// grpcServerFor is a gRPC server answering xDS from c; observers see its
// streams.
func (s *Server) grpcServerFor(ctx context.Context, c cache.Cache, observers []StreamObserver) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(s.cfg.MaxMessageBytes),
		// istiod pings every 30 s; Envoy and grpc-go may ping too.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    30 * time.Second,
			Timeout: 10 * time.Second,
		}),
	}
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls.config())))
	}
	gs := grpc.NewServer(opts...)
	xs := serverv3.NewServer(ctx, c, s.callbacks(observers))
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(gs, xs)
	clusterservice.RegisterClusterDiscoveryServiceServer(gs, xs)
	endpointservice.RegisterEndpointDiscoveryServiceServer(gs, xs)
	listenerservice.RegisterListenerDiscoveryServiceServer(gs, xs)
	routeservice.RegisterRouteDiscoveryServiceServer(gs, xs)
	return gs
}

// publishLoop waits for the model to sync, publishes its complete state,
// opens the gate, then publishes changes as they come, debounced.
func (s *Server) publishLoop(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.model.Ready():
	}
	if err := s.pub.setStatic(); err != nil {
		return err
	}
	s.publish(s.model.Drain())
	s.gate.Open()
	s.log.Info("initial state published; serving clients")
	return debounce.Run(ctx, s.cfg.Debounce.config(), s.model.Changed(), func(context.Context) error {
		s.publish(s.model.Drain())
		return nil
	})
}

// publish hands one batch of changed services to every output, after
// resolving which service owns each mesh host: all outputs see the same
// conflict-free batch.
func (s *Server) publish(changed []registry.Service) {
	changed = s.hosts.resolve(changed)
	s.pub.apply(changed)
	for _, e := range s.extensions {
		e.Apply(changed)
	}
}

// Resources returns the resources currently published, by type URL and name.
func (s *Server) Resources() map[string]map[string]types.Resource {
	return s.caches.snapshot()
}

// Versions returns the version_info the server currently answers for
// every native type (the listener type once per flavour: see caches'
// versions). They derive from the resources alone, so replicas publishing
// the same model return the same versions.
func (s *Server) Versions() map[string]string {
	return s.caches.versions()
}

// LastPush tells when the resources of service k were last published to
// the caches the clients read, and whether they are published at all.
// Safe for concurrent use.
func (s *Server) LastPush(k registry.ServiceKey) (time.Time, bool) {
	return s.pub.lastPush(k)
}

// Published returns a channel closed when the initial state is published.
func (s *Server) Published() <-chan struct{} { return s.gate.open }
