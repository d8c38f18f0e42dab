package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"dubbo.apache.org/dubbo-go/v3/cluster/cluster"
	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"
)

// ClusterName is the dubbo-go cluster extension the adapter registers.
const ClusterName = "dubbomesh"

// originalClusterKey keeps a reference's own cluster on its URL.
const originalClusterKey = "dubbomesh.original-cluster"

// OptOutParam set to "false" on a reference (client.WithParam) keeps that
// reference out of the mesh router entirely.
const OptOutParam = "dubbomesh"

func init() {
	extension.SetCluster(ClusterName, func() cluster.Cluster { return &meshCluster{} })
	extension.SetConfigPostProcessor(ClusterName, postProcessor{})
	// dubbo-go's graceful shutdown (on SIGTERM, or config.BeforeShutdown)
	// runs custom callbacks after it has unregistered and drained.
	extension.AddCustomShutdownCallback(func() { _ = Shutdown(context.Background()) })
}

// postProcessor switches every reference to the dubbomesh cluster and
// remembers the cluster it had.
type postProcessor struct{}

// PostProcessReferenceConfig implements config.ConfigPostProcessor.
func (postProcessor) PostProcessReferenceConfig(u *common.URL) {
	orig := u.GetParam(constant.ClusterKey, constant.DefaultCluster)
	if orig == ClusterName || u.GetParam(OptOutParam, "") == "false" {
		return
	}
	u.SetParam(originalClusterKey, orig)
	u.SetParam(constant.ClusterKey, ClusterName)
}

// PostProcessServiceConfig implements config.ConfigPostProcessor; providers
// are left alone.
func (postProcessor) PostProcessServiceConfig(*common.URL) {}

// process is the adapter's state, shared by every reference of the process
// (dubbo-go's extensions are process-wide).
type process struct {
	cfg    Config
	router *router.Router
	pool   *triple.Pool
	log    *slog.Logger

	stopOnce sync.Once
	stop     context.CancelFunc // ends the routing watches
	watching []<-chan struct{}  // each closed when its watch has ended
}

var (
	procOnce sync.Once
	proc     *process
	procErr  error

	// settings made before the first reference is built.
	setupMu  sync.Mutex
	setupCfg *Config
	setupLog *slog.Logger
	setupReg prometheus.Registerer = prometheus.DefaultRegisterer
)

// Configure replaces the environment as the source of the start-up
// configuration. Call it before the first reference is created.
func Configure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	setupMu.Lock()
	defer setupMu.Unlock()
	setupCfg = &cfg
	return nil
}

// SetLogger sets the adapter's logger (default: slog.Default()). Call it
// before the first reference is created.
func SetLogger(l *slog.Logger) {
	setupMu.Lock()
	defer setupMu.Unlock()
	setupLog = l
}

// SetRegisterer sets where the adapter's metrics are registered (default:
// prometheus.DefaultRegisterer; nil: not registered). Call it before the
// first reference is created.
func SetRegisterer(r prometheus.Registerer) {
	setupMu.Lock()
	defer setupMu.Unlock()
	setupReg = r
}

// Router returns the process's router, building it on first use.
func Router() (*router.Router, error) {
	p, err := get()
	if err != nil {
		return nil, err
	}
	return p.router, nil
}

// Shutdown stops the adapter: its routing-file watcher and config-center
// listener end (the routing in force stays), and its mesh connections
// close, so later mesh attempts fail before sending and go direct. It
// waits for the watchers to finish, or returns ctx's error. It is safe to
// call more than once, and does nothing before the adapter started (the
// first reference). dubbo-go's graceful shutdown calls it.
func Shutdown(ctx context.Context) error {
	setupMu.Lock()
	p := proc
	setupMu.Unlock()
	if p == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// get builds the process state once: configuration from Configure or the
// environment, the router, the mesh connection pool, and the routing
// watchers.
func get() (*process, error) {
	procOnce.Do(func() {
		setupMu.Lock()
		defer setupMu.Unlock()
		log := setupLog
		if log == nil {
			log = slog.Default()
		}
		log = log.With("component", "dubbomesh-adapter")
		var cfg Config
		if setupCfg != nil {
			cfg = *setupCfg
		} else if cfg, procErr = Load(os.LookupEnv); procErr != nil {
			return
		}
		proc, procErr = newProcess(cfg, log, setupReg)
	})
	if procErr != nil {
		return nil, fmt.Errorf("adapter: %w", procErr)
	}
	return proc, nil
}

// newProcess builds the router and the mesh connection pool for cfg and
// starts its routing watchers; shutdown stops them.
func newProcess(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*process, error) {
	if cfg.RoutingFile != "" {
		if rc, err := readRouting(cfg.RoutingFile); err != nil {
			log.Error("routing file unusable; starting from the environment's routing", "file", cfg.RoutingFile, "error", err)
		} else {
			cfg.Routing = rc
		}
	}
	if cfg.Target.Proxyless && !triple.XDSResolverLinked() {
		return nil, triple.ErrNoXDSResolver
	}
	opts := []router.Option{router.WithLogger(log)}
	if reg != nil {
		opts = append(opts, router.WithRegisterer(reg))
	}
	r, err := router.New(cfg.Routing, opts...)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &process{cfg: cfg, router: r, pool: triple.NewPool(cfg.Target), log: log, stop: stop}
	if cfg.RoutingFile != "" {
		w := &fileWatcher{path: cfg.RoutingFile, router: r, log: log}
		if done, err := w.start(ctx); err != nil {
			log.Error("cannot watch the routing file; runtime flips from it are off", "file", cfg.RoutingFile, "error", err)
		} else {
			p.watching = append(p.watching, done)
		}
	}
	if cfg.ConfigCenter.URL != "" {
		if done, err := watchConfigCenter(ctx, cfg.ConfigCenter, r, log); err != nil {
			log.Error("cannot watch the config center; runtime flips from it are off", "error", err)
		} else {
			p.watching = append(p.watching, done)
		}
	}
	log.Info("dubbomesh adapter ready", "mode", cfg.Routing.Default.Mode, "meshWeight", cfg.Routing.Default.MeshWeight,
		"sidecar", cfg.Target.Sidecar, "proxyless", cfg.Target.Proxyless, "routingFile", cfg.RoutingFile)
	return p, nil
}

// shutdown stops the watchers and closes the pool; see Shutdown.
func (p *process) shutdown(ctx context.Context) error {
	var errs []error
	p.stopOnce.Do(func() {
		p.stop()
		errs = append(errs, p.pool.Close())
		p.log.Info("dubbomesh adapter stopping; mesh calls go direct")
	})
	for _, done := range p.watching {
		select {
		case <-done:
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("adapter: shutdown: %w", ctx.Err()))...)
		}
	}
	return errors.Join(errs...)
}
