// Command provider is a real Dubbo-Go v3.3 Triple provider used by the
// dubbomesh tests and demos. It serves the Greeter and Echo services of
// greeter.proto (and with -user-service the non-IDL, hessian2
// dubbomesh.examples.UserService of user.go) on one Triple port, registers
// them in ZooKeeper or Nacos the way a default dubbo-go application does,
// prints exactly one line "provider ready port=N app=A register=R" once it
// is registered and serving, and on SIGTERM or SIGINT shuts down gracefully
// (deregistering) and exits 0.
//
//	go run ./examples/provider -registry zookeeper://127.0.0.1:2181 -register all
//	go run ./examples/provider -registry nacos://127.0.0.1:8848
//
// Set DUBBO_IP_TO_REGISTRY=127.0.0.1 to keep the registered address on
// loopback; dubbo-go otherwise registers the machine's outward address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"
	dubbologger "dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/protocol"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"dubbo.apache.org/dubbo-go/v3/server"
)

// Protocols accepted by -protocol.
const (
	ProtocolTriple = "tri"   // Triple only (the default)
	ProtocolDubbo  = "dubbo" // Dubbo2 only: the mesh path cannot reach it
	ProtocolBoth   = "both"  // Triple on -port and Dubbo2 on -dubbo-port
)

// Registration modes accepted by -register.
const (
	RegisterApplication = "application" // dubbo-go v3.3 default: /services/{app}/...
	RegisterInterface   = "interface"   // Dubbo 2 style: /dubbo/{iface}/providers/...
	RegisterAll         = "all"         // both at once
)

// Config is the provider's command line.
type Config struct {
	Registry     string        // registry URL, e.g. zookeeper://127.0.0.1:2181 or nacos://127.0.0.1:8848
	App          string        // Dubbo application name
	Host         string        // address to bind the Triple port to
	Port         int           // Triple port, or with -protocol dubbo the Dubbo2 port (0 = pick a free one)
	Protocol     string        // ProtocolTriple, ProtocolDubbo or ProtocolBoth
	DubboPort    int           // Dubbo2 port with ProtocolBoth (0 = pick a free one)
	Register     string        // RegisterApplication, RegisterInterface or RegisterAll
	Version      string        // service version (empty = none)
	Group        string        // service group (empty = none)
	Tag          string        // Dubbo tag of the services (dubbo.tag; empty = none)
	LoadBalance  string        // loadbalance parameter of the services (empty = dubbo-go's default)
	Weight       int           // service weight parameter (0 = not set)
	Metadata     string        // "local" or "remote"
	ShutdownWait time.Duration // how long to keep serving after deregistering
	ReadyTimeout time.Duration // how long registration may take
	LogLevel     string        // dubbo-go's own log level
	TraceCalls   bool          // print "served Greet <arg>" for every Greet call
	LogHeaders   bool          // print "headers Greet <JSON>" (the request headers) for every Greet call
	UserService  bool          // also serve the non-IDL UserService (user.go)
}

// Validate reports the first problem in c in words a user can act on.
func (c Config) Validate() error {
	if c.Registry == "" {
		return errors.New("-registry is required, e.g. -registry zookeeper://127.0.0.1:2181")
	}
	for _, r := range c.Registries() {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "zookeeper" && u.Scheme != "nacos") || u.Host == "" {
			return fmt.Errorf("-registry %q: want zookeeper://host:port[,host:port...] or nacos://host:port (several separated by ';'), e.g. zookeeper://127.0.0.1:2181", r)
		}
	}
	if c.App == "" {
		return errors.New("-app must not be empty")
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("-port %d: want 0 (any free port) to 65535", c.Port)
	}
	switch c.Register {
	case RegisterApplication, RegisterInterface, RegisterAll:
	default:
		return fmt.Errorf("-register %q: want %s, %s or %s", c.Register, RegisterApplication, RegisterInterface, RegisterAll)
	}
	switch c.Protocol {
	case ProtocolTriple, ProtocolDubbo, ProtocolBoth:
	default:
		return fmt.Errorf("-protocol %q: want %s, %s or %s", c.Protocol, ProtocolTriple, ProtocolDubbo, ProtocolBoth)
	}
	if c.DubboPort < 0 || c.DubboPort > 65535 || (c.DubboPort != 0 && c.Protocol != ProtocolBoth) {
		return fmt.Errorf("-dubbo-port %d: want 0 to 65535, and only with -protocol %s", c.DubboPort, ProtocolBoth)
	}
	switch c.Metadata {
	case "local", "remote":
	default:
		return fmt.Errorf("-metadata %q: want local or remote", c.Metadata)
	}
	if c.Weight < 0 {
		return fmt.Errorf("-weight %d: must not be negative", c.Weight)
	}
	if c.ReadyTimeout <= 0 {
		return fmt.Errorf("-ready-timeout %s: must be positive", c.ReadyTimeout)
	}
	return nil
}

// Registries splits -registry: several registry URLs are separated by ';'.
func (c Config) Registries() []string {
	var out []string
	for r := range strings.SplitSeq(c.Registry, ";") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

func parseFlags(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("provider", flag.ContinueOnError)
	fs.StringVar(&c.Registry, "registry", "", "registry URL, e.g. zookeeper://127.0.0.1:2181 or nacos://127.0.0.1:8848; several separated by ';' (required)")
	fs.StringVar(&c.App, "app", "greeter-provider", "Dubbo application name")
	fs.StringVar(&c.Host, "host", "127.0.0.1", "address to bind the Triple port to")
	fs.IntVar(&c.Port, "port", 0, "Triple port, or with -protocol dubbo the Dubbo2 port (0 = a free port)")
	fs.StringVar(&c.Protocol, "protocol", ProtocolTriple, "protocols to export every service on: tri, dubbo (Dubbo2 only) or both (Triple on -port, Dubbo2 on -dubbo-port)")
	fs.IntVar(&c.DubboPort, "dubbo-port", 0, "Dubbo2 port with -protocol both (0 = a free port)")
	fs.StringVar(&c.Register, "register", RegisterApplication, "registration: application, interface or all")
	fs.StringVar(&c.Version, "version", "", "service version")
	fs.StringVar(&c.Group, "group", "", "service group")
	fs.StringVar(&c.Tag, "tag", "", "Dubbo tag (dubbo.tag) of the services, for tag routing")
	fs.StringVar(&c.LoadBalance, "loadbalance", "", "loadbalance of the services, e.g. consistenthashing (empty = dubbo-go's default)")
	fs.IntVar(&c.Weight, "weight", 0, "service weight (0 = leave unset)")
	fs.StringVar(&c.Metadata, "metadata", "local", "metadata type: local (MetadataService) or remote (metadata report)")
	fs.DurationVar(&c.ShutdownWait, "shutdown-wait", 500*time.Millisecond, "keep serving this long after deregistering on shutdown")
	fs.DurationVar(&c.ReadyTimeout, "ready-timeout", 60*time.Second, "give up if not registered within this time")
	fs.BoolVar(&c.TraceCalls, "trace-calls", false, "print one line per Greet call served")
	fs.BoolVar(&c.LogHeaders, "log-headers", false, "print the request headers of every Greet call served, as one JSON line")
	fs.BoolVar(&c.UserService, "user-service", false, "also serve the non-IDL (hessian2) "+UserInterface)
	fs.StringVar(&c.LogLevel, "log-level", "warn", "dubbo-go log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, c.Validate()
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "provider")
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "provider:", err)
		os.Exit(2)
	}
	if err := run(cfg, os.Stdout, log); err != nil {
		log.Error("provider failed", "err", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT, writing the ready line to out.
func run(cfg Config, out io.Writer, log *slog.Logger) error {
	if cfg.Port == 0 {
		p, err := freePort(cfg.Host)
		if err != nil {
			return err
		}
		cfg.Port = p
	}
	if os.Getenv("DUBBO_IP_TO_REGISTRY") == "" {
		log.Warn("DUBBO_IP_TO_REGISTRY is not set: dubbo-go registers the machine's outward address")
	}

	insOpts := []dubbo.InstanceOption{
		dubbo.WithName(cfg.App),
		dubbo.WithLogger(dubbologger.WithZap(), dubbologger.WithLevel(cfg.LogLevel)),
	}
	for i, r := range cfg.Registries() {
		regOpts := []registry.Option{registry.WithAddress(r), registry.WithID(fmt.Sprintf("registry-%d", i))}
		switch cfg.Register {
		case RegisterInterface:
			regOpts = append(regOpts, registry.WithRegisterInterface())
		case RegisterAll:
			regOpts = append(regOpts, registry.WithRegisterServiceAndInterface())
		}
		insOpts = append(insOpts, dubbo.WithRegistry(regOpts...))
	}
	if cfg.Protocol == ProtocolBoth && cfg.DubboPort == 0 {
		p, err := freePort(cfg.Host)
		if err != nil {
			return err
		}
		cfg.DubboPort = p
	}
	switch cfg.Protocol {
	case ProtocolTriple:
		insOpts = append(insOpts, dubbo.WithProtocol(protocol.WithID("tri"), protocol.WithTriple(), protocol.WithIp(cfg.Host), protocol.WithPort(cfg.Port)))
	case ProtocolDubbo:
		insOpts = append(insOpts, dubbo.WithProtocol(protocol.WithID("dubbo"), protocol.WithDubbo(), protocol.WithIp(cfg.Host), protocol.WithPort(cfg.Port)))
	case ProtocolBoth:
		// Every service is exported on every protocol.
		insOpts = append(insOpts,
			dubbo.WithProtocol(protocol.WithID("tri"), protocol.WithTriple(), protocol.WithIp(cfg.Host), protocol.WithPort(cfg.Port)),
			dubbo.WithProtocol(protocol.WithID("dubbo"), protocol.WithDubbo(), protocol.WithIp(cfg.Host), protocol.WithPort(cfg.DubboPort)))
	}
	if cfg.Protocol != ProtocolTriple {
		// dubbo-go v3.3.2 exports the MetadataService on the port of the
		// protocol with id "dubbo" unless told otherwise, in a server of
		// its own: the second bind of that port panics.
		p, err := freePort(cfg.Host)
		if err != nil {
			return err
		}
		insOpts = append(insOpts, dubbo.WithMetadataServicePort(p))
	}
	insOpts = append(insOpts,
		dubbo.WithShutdown(
			graceful_shutdown.WithoutInternalSignal(),
			graceful_shutdown.WithConsumerUpdateWaitTime(cfg.ShutdownWait),
			graceful_shutdown.WithStepTimeout(3*time.Second),
			graceful_shutdown.WithTimeout(15*time.Second),
		),
	)
	if cfg.Metadata == "remote" {
		insOpts = append(insOpts, dubbo.WithRemoteMetadata())
	}
	ins, err := dubbo.NewInstance(insOpts...)
	if err != nil {
		return fmt.Errorf("dubbo instance: %w", err)
	}
	var srvOpts []server.ServerOption
	if cfg.Weight > 0 {
		// dubbo-go v3.3.2 writes weight=<provider weight> on every service
		// URL, over any service parameter, and has no option for it.
		weight := int64(cfg.Weight)
		srvOpts = append(srvOpts, func(o *server.ServerOptions) { o.Provider.Weight = weight })
	}
	srv, err := ins.NewServer(srvOpts...)
	if err != nil {
		return fmt.Errorf("dubbo server: %w", err)
	}

	var svcOpts []server.ServiceOption
	if cfg.Version != "" {
		svcOpts = append(svcOpts, server.WithVersion(cfg.Version))
	}
	if cfg.Group != "" {
		svcOpts = append(svcOpts, server.WithGroup(cfg.Group))
	}
	if cfg.Tag != "" {
		svcOpts = append(svcOpts, server.WithTag(cfg.Tag))
	}
	if cfg.LoadBalance != "" {
		svcOpts = append(svcOpts, server.WithLoadBalance(cfg.LoadBalance))
	}
	g := &GreeterService{app: cfg.App, port: cfg.Port, version: cfg.Version, group: cfg.Group, tag: cfg.Tag}
	if cfg.TraceCalls {
		g.trace = out
	}
	if cfg.LogHeaders {
		g.headers = out
	}
	if err := srv.Register(g, &greeterServiceInfo, svcOpts...); err != nil {
		return fmt.Errorf("register Greeter: %w", err)
	}
	if err := srv.Register(EchoService{}, &echoServiceInfo, svcOpts...); err != nil {
		return fmt.Errorf("register Echo: %w", err)
	}
	if cfg.UserService {
		registerUserPOJO()
		userOpts := append([]server.ServiceOption{server.WithSerialization(constant.Hessian2Serialization)}, svcOpts...)
		if err := srv.RegisterService(&UserService{app: cfg.App, port: cfg.Port, version: cfg.Version}, userOpts...); err != nil {
			return fmt.Errorf("register UserService: %w", err)
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()

	readyCtx, cancel := context.WithTimeout(context.Background(), cfg.ReadyTimeout)
	ready := make(chan error, 1)
	go func() { ready <- waitReady(readyCtx, cfg, log) }()
	select {
	case err := <-ready:
		cancel()
		if err != nil {
			return errors.Join(fmt.Errorf("not ready: %w", err), shutdown(log))
		}
		fmt.Fprintf(out, "provider ready port=%d app=%s register=%s\n", cfg.Port, cfg.App, cfg.Register)
	case err := <-served:
		cancel()
		return fmt.Errorf("serve: %w", err)
	case sig := <-sigs:
		cancel()
		log.Info("signal before ready, shutting down", "signal", sig)
		return shutdown(log)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig)
		if err := shutdown(log); err != nil {
			return err
		}
		if err := <-served; err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	}
}

// shutdown runs dubbo-go's graceful shutdown: deregister, drain, close.
func shutdown(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := graceful_shutdown.Shutdown(ctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	log.Info("shut down", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// freePort asks the kernel for a free TCP port on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
