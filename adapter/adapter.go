package adapter

import (
	"context"
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

// get builds the process state once: configuration from Configure or the
// environment, the router, the mesh connection pool, and the routing file
// watcher.
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
		if cfg.RoutingFile != "" {
			if rc, err := readRouting(cfg.RoutingFile); err != nil {
				log.Error("routing file unusable; starting from the environment's routing", "file", cfg.RoutingFile, "error", err)
			} else {
				cfg.Routing = rc
			}
		}
		opts := []router.Option{router.WithLogger(log)}
		if setupReg != nil {
			opts = append(opts, router.WithRegisterer(setupReg))
		}
		r, err := router.New(cfg.Routing, opts...)
		if err != nil {
			procErr = err
			return
		}
		proc = &process{cfg: cfg, router: r, pool: triple.NewPool(cfg.Target), log: log}
		if cfg.RoutingFile != "" {
			w := &fileWatcher{path: cfg.RoutingFile, router: r, log: log}
			if err := w.start(context.Background()); err != nil {
				log.Error("cannot watch the routing file; runtime flips from it are off", "file", cfg.RoutingFile, "error", err)
			}
		}
		if cfg.ConfigCenter.URL != "" {
			if err := watchConfigCenter(cfg.ConfigCenter, r, log); err != nil {
				log.Error("cannot watch the config center; runtime flips from it are off", "error", err)
			}
		}
		log.Info("dubbomesh adapter ready", "mode", cfg.Routing.Default.Mode, "meshWeight", cfg.Routing.Default.MeshWeight,
			"sidecar", cfg.Target.Sidecar, "proxyless", cfg.Target.Proxyless, "routingFile", cfg.RoutingFile)
	})
	if procErr != nil {
		return nil, fmt.Errorf("adapter: %w", procErr)
	}
	return proc, nil
}
