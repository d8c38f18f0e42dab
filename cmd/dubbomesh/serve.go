package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/dubbomesh/dubbomesh/internal/admin"
	"github.com/dubbomesh/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/nacos"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

func serveCmd() *cobra.Command {
	var (
		path  string
		flags config.Config
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Watch the registries and serve their Dubbo services over xDS",
		Long: `Watch the configured registries and serve every Dubbo service over xDS.

Configuration comes from --config (YAML), then DUBBOMESH_* environment
variables, then flags; later ones win. See the Configuration section of
README.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, path, flags)
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
	f.StringSliceVar(&flags.Registries, "registry", nil, "registry URL (repeatable), e.g. zookeeper://127.0.0.1:2181?root=dubbo")
	f.StringVar(&flags.XDS.Address, "xds-address", "", "xDS listen address (default "+xds.DefaultAddress+")")
	f.StringVar(&flags.XDS.OutboundAddress, "outbound-address", "", "Envoy sidecar outbound listener address (default "+xds.DefaultOutboundAddress+")")
	f.StringVar(&flags.Admin.Address, "admin-address", "", "admin HTTP address (default "+config.DefaultAdminAddress+")")
	f.StringVar(&flags.Log.Level, "log-level", "", "debug, info, warn or error")
	f.StringVar(&flags.Log.Format, "log-format", "", "text or json")
	return cmd
}

// loadConfig layers file, environment and flags, then validates.
func loadConfig(cmd *cobra.Command, path string, flags config.Config) (config.Config, error) {
	var cfg config.Config
	if path != "" {
		c, err := config.Load(path)
		if err != nil {
			return cfg, err
		}
		cfg = c
	}
	cfg.ApplyEnv(os.LookupEnv)
	if cmd.Flags().Changed("registry") {
		cfg.Registries = flags.Registries
	}
	for _, o := range []struct {
		flag string
		dst  *string
		v    string
	}{
		{"xds-address", &cfg.XDS.Address, flags.XDS.Address},
		{"outbound-address", &cfg.XDS.OutboundAddress, flags.XDS.OutboundAddress},
		{"admin-address", &cfg.Admin.Address, flags.Admin.Address},
		{"log-level", &cfg.Log.Level, flags.Log.Level},
		{"log-format", &cfg.Log.Format, flags.Log.Format},
	} {
		if cmd.Flags().Changed(o.flag) {
			*o.dst = o.v
		}
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func serve(ctx context.Context, cfg config.Config) error {
	log, err := cfg.Log.Logger(os.Stderr)
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
	staleTTL := cfg.Model.StaleTTL
	switch {
	case staleTTL == 0:
		staleTTL = registry.DefaultStaleTTL
	case staleTTL < 0:
		staleTTL = 0 // never expire
	}
	merger := registry.NewMerger(names, registry.WithMergeLogger(log.With("component", "model")),
		registry.WithMergeRegisterer(reg), registry.WithStaleTTL(staleTTL))

	xcfg := xds.Config{
		Address: cfg.XDS.Address,
		Translation: xds.Translation{
			Hosts:           naming.Hosts{InterfaceTemplate: cfg.Naming.InterfaceTemplate, ApplicationTemplate: cfg.Naming.ApplicationTemplate},
			Labeler:         naming.Labeler{FromParams: cfg.Labels.FromParams, Static: cfg.Labels.Static},
			OutboundAddress: cfg.XDS.OutboundAddress,
			ConsistentHash:  cfg.XDS.ConsistentHash,
			Breaker:         cfg.Breaker,
		},
		Debounce:        xds.Debounce{Quiet: cfg.XDS.Debounce.Quiet, Ceiling: cfg.XDS.Debounce.Ceiling},
		MaxMessageBytes: cfg.XDS.MaxMessageBytes,
		TLS:             xds.TLS{CertFile: cfg.XDS.TLS.Cert, KeyFile: cfg.XDS.TLS.Key, ClientCAFile: cfg.XDS.TLS.ClientCA},
	}
	xopts := []xds.Option{xds.WithLogger(log), xds.WithRegisterer(reg)}
	if cfg.Istio.Enabled {
		ist, err := istio.New(istio.Config{
			Namespace: cfg.Istio.Namespace,
			Hosts:     xcfg.Translation.Hosts,
			Labeler:   xcfg.Translation.Labeler,
			Ports:     istio.Ports{Triple: cfg.Istio.Ports.Triple, GRPC: cfg.Istio.Ports.GRPC, Dubbo: cfg.Istio.Ports.Dubbo},
		}, istio.WithLogger(log), istio.WithRegisterer(reg))
		if err != nil {
			return err
		}
		xopts = append(xopts, xds.WithExtension(ist))
	}
	xs, err := xds.New(xcfg, merger, xopts...)
	if err != nil {
		return err
	}
	adm := admin.New(cfg.Admin.Address, xs, reg, log)

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
	g.Go(func() error { return adm.Run(ctx) })
	err = g.Wait()
	log.Info("stopped", "error", err)
	return err
}

// buildSources makes one source per registry URL.
func buildSources(cfg config.Config, log *slog.Logger, reg prometheus.Registerer) ([]registry.Source, error) {
	var out []registry.Source
	for i, raw := range cfg.Registries {
		r, err := config.ParseRegistry(raw, i)
		if err != nil {
			return nil, err
		}
		switch r.Kind {
		case "zookeeper":
			w, err := zookeeper.NewWatcher(zookeeper.Config{
				Name:           r.Name,
				Servers:        r.Servers,
				Root:           r.Root,
				SessionTimeout: r.SessionTimeout,
			}, zookeeper.WithLogger(log.With("component", "zookeeper", "source", r.Name)), zookeeper.WithRegisterer(reg))
			if err != nil {
				return nil, err
			}
			out = append(out, w)
		case "nacos":
			w, err := nacos.NewWatcher(nacos.Config{
				Name:                r.Name,
				Servers:             r.Servers,
				Namespaces:          r.Nacos.Namespaces,
				Groups:              r.Nacos.Groups,
				Username:            r.Nacos.Username,
				Password:            r.Nacos.Password,
				AccessKey:           r.Nacos.AccessKey,
				SecretKey:           r.Nacos.SecretKey,
				ServiceListInterval: r.Nacos.ServiceListInterval,
				ResyncGrace:         r.Nacos.ResyncGrace,
				CacheDir:            r.Nacos.CacheDir,
			}, nacos.WithLogger(log), nacos.WithRegisterer(reg))
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
