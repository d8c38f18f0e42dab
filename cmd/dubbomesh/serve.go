package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/admin"
	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/configcenter"
	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/console"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/nacos"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// keyFlags are the flags that set a configuration key (config.Config.Set).
var keyFlags = []struct{ name, key, usage string }{
	{"xds-address", "xds.address", "xDS listen address (default " + xds.DefaultAddress + ")"},
	{"outbound-address", "xds.outboundAddress", "Envoy sidecar outbound listener address (default " + xds.DefaultOutboundAddress + ")"},
	{"admin-address", "admin.address", "admin HTTP address (default " + config.DefaultAdminAddress + ")"},
	{"log-level", "log.level", "debug, info, warn or error"},
	{"log-format", "log.format", "text or json"},
}

func serveCmd() *cobra.Command {
	var (
		path       string
		registries []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Watch the registries and serve their Dubbo services over xDS",
		Long: `Watch the configured registries and serve every Dubbo service over xDS.

Configuration comes from --config (YAML), then DUBBOMESH_* environment
variables (one per key: xds.tls.clientCA is DUBBOMESH_XDS_TLS_CLIENT_CA),
then flags; later ones win. See the Configuration section of README.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, path, registries)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&path, "config", "c", "", "YAML configuration file")
	// Not a StringSlice: a registry URL holds commas between its hosts.
	f.StringArrayVar(&registries, "registry", nil, "registry URL (repeatable), e.g. zookeeper://127.0.0.1:2181?root=dubbo")
	for _, k := range keyFlags {
		f.String(k.name, "", k.usage)
	}
	return cmd
}

// loadConfig layers file, environment and flags, then validates what the
// config package owns; each component validates its own part when built.
func loadConfig(cmd *cobra.Command, path string, registries []string) (config.Config, error) {
	var cfg config.Config
	if path != "" {
		c, err := config.Load(path)
		if err != nil {
			return cfg, err
		}
		cfg = c
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return cfg, err
	}
	if cmd.Flags().Changed("registry") {
		cfg.Registries = registries
	}
	for _, k := range keyFlags {
		if fl := cmd.Flags().Lookup(k.name); fl.Changed {
			if err := cfg.Set(k.key, fl.Value.String()); err != nil {
				return cfg, fmt.Errorf("--%s: %w", k.name, err)
			}
		}
	}
	cfg.SetDefaults()
	return cfg, cfg.Validate()
}

func serve(ctx context.Context, cfg config.Config) error { return serveLogTo(ctx, cfg, os.Stderr) }

// serveLogTo is serve with the log written to logTo (tests read it).
func serveLogTo(ctx context.Context, cfg config.Config, logTo io.Writer) error {
	log, err := cfg.Log.Logger(logTo)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	sources, err := buildSources(cfg, log, reg)
	if err != nil {
		return err
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name()
	}
	merger := registry.NewMerger(names, append(cfg.Model.MergerOptions(),
		registry.WithMergeLogger(log.With("component", "model")), registry.WithMergeRegisterer(reg))...)

	xopts := []xds.Option{xds.WithLogger(log), xds.WithRegisterer(reg)}
	var ist *istio.Publisher
	if cfg.Istio.Enabled {
		if ist, err = newIstio(cfg.IstioConfig(), cfg.XDSConfig().Address, log, reg); err != nil {
			return err
		}
		xopts = append(xopts, xds.WithExtension(ist))
	}
	xs, err := xds.New(cfg.XDSConfig(), merger, xopts...)
	if err != nil {
		return err
	}
	var status admin.Status = xs
	if ist != nil {
		status = withIstio{xs, ist}
	}
	var aopts []admin.Option
	if cfg.Admin.TokenFile != "" {
		tok, err := admin.ReadTokenFile(cfg.Admin.TokenFile)
		if err != nil {
			return fmt.Errorf("admin.tokenFile: %w", err)
		}
		aopts = append(aopts, admin.WithToken(tok))
	}
	con, closeConsole, err := newConsole(cfg, merger, status, log, console.WithLastPush(xs.LastPush))
	if err != nil {
		return err
	}
	defer closeConsole()
	aopts = append(aopts, con.Routes()...)
	adm := admin.New(cfg.Admin.Address, status, reg, log, aopts...)

	log.Info("starting dubbomesh", "version", version, "registries", names)
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range sources {
		g.Go(func() error {
			if err := s.Run(ctx, merger); err != nil {
				return fmt.Errorf("source %s: %w", s.Name(), err)
			}
			return nil
		})
	}
	g.Go(func() error { return xs.Run(ctx) })
	if ist != nil {
		g.Go(func() error { return ist.Run(ctx) })
	}
	g.Go(func() error { return adm.Run(ctx) })
	err = g.Wait()
	log.Info("stopped", "error", err)
	return err
}

// newConsole builds the migration console; the returned func closes its
// config-center connection.
func newConsole(cfg config.Config, model console.Model, res console.Resources, log *slog.Logger, extra ...console.Option) (*console.Console, func(), error) {
	opts := append([]console.Option{console.WithNaming(cfg.Naming, cfg.Labels), console.WithLogger(log)}, extra...)
	if cfg.Istio.Enabled {
		opts = append(opts, console.WithIstio(cfg.Istio.Shards))
	}
	if p := cfg.Console.Prometheus; p != "" {
		opts = append(opts, console.WithPrometheus(p, cfg.Console.PrometheusWindow))
	}
	closer := func() {}
	if cc := cfg.Console.ConfigCenter; cc.URL != "" {
		// Parsed now (a bad URL is a start-up error), connected on first
		// use: a config center that is down must not delay the xDS server.
		if _, err := config.ParseRegistry(cc.URL, 0); err != nil {
			return nil, nil, fmt.Errorf("console.configCenter: %w", err)
		}
		store := configcenter.NewLazy(cc.URL, log)
		closer = func() { _ = store.Close() }
		opts = append(opts, console.WithRouting(configcenter.NewRouting(store, cc.Group, cc.Key, configcenter.WithLogger(log))))
	}
	return console.New(model, res, opts...), closer, nil
}

// buildSources makes one source per registry URL.
func buildSources(cfg config.Config, log *slog.Logger, reg prometheus.Registerer) ([]registry.Source, error) {
	regs, err := cfg.Sources()
	if err != nil {
		return nil, err
	}
	out := make([]registry.Source, 0, len(regs))
	for _, r := range regs {
		switch r.Kind {
		case "zookeeper":
			w, err := zookeeper.NewWatcher(r.ZooKeeper, registry.WithSourceLogger(log), registry.WithSourceRegisterer(reg))
			if err != nil {
				return nil, err
			}
			out = append(out, w)
		case "nacos":
			w, err := nacos.NewWatcher(r.Nacos, registry.WithSourceLogger(log), registry.WithSourceRegisterer(reg))
			if err != nil {
				return nil, err
			}
			out = append(out, w)
		default:
			return nil, fmt.Errorf("%w: registry kind %q is not supported yet", config.ErrInvalid, r.Kind)
		}
	}
	return out, nil
}
