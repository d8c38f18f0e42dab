// Command istiod-harness runs Istio's own discovery server (istiod) in-process
// for dubbomesh's tests, and validates Istio config with Istio's own rules.
//
// It is test machinery, in its own Go module so that Istio's dependency tree
// stays out of dubbomesh's. It uses the unmodified istio.io/istio module: the
// bootstrap server from pilot/pkg/bootstrap with Istio's in-memory fake
// Kubernetes client (the same injection Istio's own tests use), so no cluster
// is needed, and the mesh config names dubbomesh as an xds:// config source.
//
//	istiod-harness serve -xds 127.0.0.1:15010[,127.0.0.1:15011...] -grpc 127.0.0.1:P1 -http 127.0.0.1:P2 -monitoring 127.0.0.1:P3 [-fs DIR] [-xds-ca CA.pem]
//	istiod-harness validate FILE.yaml...
//
// serve prints "istiod-harness: serving" once Start returned; readiness is
// istiod's own /ready on the -http address. validate parses Kubernetes-style
// YAML documents and runs Istio's validation of each kind; it exits 1 and
// names every invalid document.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"unsafe"

	"istio.io/istio/pilot/pkg/bootstrap"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/kube"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: istiod-harness serve|validate ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "validate":
		err = validate(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "istiod-harness:", err)
		os.Exit(1)
	}
}

// env is what istiod reads once at package init; serve re-executes itself
// with it when it is missing.
var env = map[string]string{
	"ENABLE_CA_SERVER": "false",
	"POD_NAMESPACE":    "istio-system",
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	xds := fs.String("xds", "", "dubbomesh's xDS addresses (host:port, comma-separated), one xds:// config source each (one per shard)")
	dir := fs.String("fs", "", "optional directory of Istio YAML, an extra fs:// config source")
	xdsCA := fs.String("xds-ca", "", "optional CA bundle (PEM file): connect to -xds over TLS (tlsSettings mode SIMPLE)")
	grpcAddr := fs.String("grpc", "127.0.0.1:15010", "istiod's plain-text xDS address")
	httpAddr := fs.String("http", "127.0.0.1:8080", "istiod's debug and readiness HTTP address")
	monAddr := fs.String("monitoring", "127.0.0.1:15014", "istiod's monitoring address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *xds == "" {
		return errors.New("serve: -xds is required")
	}
	if reexec() {
		return errors.New("re-exec failed")
	}
	tmp, err := os.MkdirTemp("", "istiod-harness-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var tlsSettings string
	if *xdsCA != "" {
		// istiod takes the PEM itself in caCertificates, not a file name.
		pem, err := os.ReadFile(*xdsCA)
		if err != nil {
			return err
		}
		quoted, err := json.Marshal(string(pem))
		if err != nil {
			return err
		}
		tlsSettings = fmt.Sprintf("    tlsSettings: {mode: SIMPLE, caCertificates: %s}\n", quoted)
	}
	var sources string
	for _, addr := range strings.Split(*xds, ",") {
		sources += fmt.Sprintf("  - address: xds://%s\n", strings.TrimSpace(addr)) + tlsSettings
	}
	if *dir != "" {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		sources += fmt.Sprintf("  - address: fs://%s\n", abs)
	}
	meshFile := filepath.Join(tmp, "mesh.yaml")
	// No auto mTLS: the sidecar in dubbomesh's tests is upstream Envoy
	// without pilot-agent, so nothing would serve it the SDS certificates
	// that auto-mTLS clusters wait for. Dubbo providers have no sidecar and
	// are reached in plain text either way.
	mesh := "enableAutoMtls: false\nconfigSources:\n" + sources
	if err := os.WriteFile(meshFile, []byte(mesh), 0o600); err != nil {
		return err
	}
	pa := bootstrap.NewPilotArgs(func(p *bootstrap.PilotArgs) {
		p.Namespace = "istio-system"
		p.MeshConfigFile = meshFile
		p.RegistryOptions.Registries = nil
		p.ServerOptions = bootstrap.DiscoveryServerOptions{
			HTTPAddr:       *httpAddr,
			GRPCAddr:       *grpcAddr,
			MonitoringAddr: *monAddr,
			SecureGRPCAddr: "",
			TLSOptions:     bootstrap.TLSOptions{TLSMinVersion: bootstrap.TLSMinVersion1_2},
		}
		p.ShutdownDuration = 1
	})
	if err := pa.Complete(); err != nil {
		return fmt.Errorf("pilot args: %w", err)
	}
	server, err := bootstrap.NewServer(pa, injectFakeKube)
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	stop := make(chan struct{})
	if err := server.Start(stop); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	fmt.Println("istiod-harness: serving")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	close(stop)
	server.WaitUntilCompletion()
	return nil
}

// reexec replaces the process with itself when env is not yet set; it
// returns only on failure (true) or when nothing had to be done (false).
func reexec() bool {
	missing := false
	environ := os.Environ()
	for k, v := range env {
		if os.Getenv(k) != v {
			missing = true
			environ = append(environ, k+"="+v)
		}
	}
	if !missing {
		return false
	}
	self, err := os.Executable()
	if err != nil {
		return true
	}
	_ = syscall.Exec(self, os.Args, environ)
	return true
}

// injectFakeKube gives the server Istio's in-memory fake Kubernetes client,
// as Istio's own tests do. The field is unexported; this is test-only code.
func injectFakeKube(s *bootstrap.Server) {
	f := reflect.ValueOf(s).Elem().FieldByName("kubeClient")
	client := reflect.ValueOf(kube.NewFakeClient())
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(client.Convert(f.Type()))
}

func validate(files []string) error {
	if len(files) == 0 {
		return errors.New("validate: no files")
	}
	invalid := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		cfgs, unknown, err := crd.ParseInputs(string(data))
		if err != nil {
			fmt.Printf("%s: INVALID: %v\n", name, err)
			invalid++
			continue
		}
		for _, u := range unknown {
			fmt.Printf("%s: INVALID: unknown kind %s/%s\n", name, u.APIVersion, u.Kind)
			invalid++
		}
		for _, c := range cfgs {
			schema, ok := collections.Pilot.FindByGroupVersionAliasesKind(c.GroupVersionKind)
			if !ok {
				fmt.Printf("%s: INVALID: no schema for %v\n", name, c.GroupVersionKind)
				invalid++
				continue
			}
			warn, err := schema.ValidateConfig(c)
			switch {
			case err != nil:
				fmt.Printf("%s: INVALID %s %s/%s: %v\n", name, c.GroupVersionKind.Kind, c.Namespace, c.Name, err)
				invalid++
			case warn != nil:
				fmt.Printf("%s: WARNING %s %s/%s: %v\n", name, c.GroupVersionKind.Kind, c.Namespace, c.Name, warn)
			default:
				fmt.Printf("%s: valid %s %s/%s\n", name, c.GroupVersionKind.Kind, c.Namespace, c.Name)
			}
		}
	}
	if invalid > 0 {
		return fmt.Errorf("%d invalid", invalid)
	}
	return nil
}
