package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/triple"
	"github.com/dubbomesh/dubbomesh/xds"
)

const (
	javaUserHost    = "dubbomesh.examples.userservice.dubbo"
	javaApplication = "java-provider"
)

// javaUser is the Java provider's hessian2 POJO dubbomesh.examples.User.
type javaUser struct {
	ID   string
	Name string
	Age  int32
}

func (javaUser) JavaClassName() string { return "dubbomesh.examples.User" }

func init() { hessian.RegisterPOJO(&javaUser{}) }

// javaWorld is one registry, one real Apache Dubbo Java provider,
// dubbomesh reading the registry and an Envoy sidecar.
type javaWorld struct {
	registry string
	java     *testenv.JavaProvider
	mesh     *mesh
}

// startJavaWorld starts the provider (registered in reg as cfg says),
// dubbomesh and the sidecar.
func startJavaWorld(t *testing.T, reg string, cfg testenv.JavaProviderConfig) *javaWorld {
	t.Helper()
	cfg.Registry = reg
	start := time.Now()
	w := &javaWorld{registry: reg, java: testenv.StartJavaProvider(t, cfg)}
	t.Logf("Java provider ready after %v", time.Since(start).Round(time.Millisecond))
	w.mesh = startMesh(t, reg)
	bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: w.mesh.xds, NodeID: "java-sidecar"})
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartEnvoy(t, string(bootstrap))
	return w
}

// run checks discovery, calls and the consumers of services, logging how
// long each took.
func (w *javaWorld) run(t *testing.T, registry string, services ...string) {
	t.Helper()
	start := time.Now()
	w.checkDiscovered(t, registry)
	discovered := time.Now()
	if w.java.Config().MetadataType == "remote" {
		w.checkRemoteMetadataRead(t)
	}
	w.checkCalls(t)
	called := time.Now()
	for _, s := range services {
		w.checkConsumer(t, s)
	}
	t.Logf("discovered %v, called %v, consumer %v", discovered.Sub(start).Round(time.Millisecond),
		called.Sub(discovered).Round(time.Millisecond), time.Since(called).Round(time.Millisecond))
}

// checkRemoteMetadataRead checks on dubbomesh's /metrics that a fetch for
// the remote storage type succeeded: with remote metadata the Java provider
// exports no MetadataService, so only the registry's metadata report can
// have answered it.
func (w *javaWorld) checkRemoteMetadataRead(t *testing.T) {
	t.Helper()
	body, code, err := get(t.Context(), "http://"+w.mesh.admin+"/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("metrics: %d %v", code, err)
	}
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "dubbomesh_registry_metadata_fetches_total{") &&
			strings.Contains(line, `result="ok"`) && strings.Contains(line, `storage="remote"`) {
			return
		}
	}
	t.Errorf("no remote metadata fetch with result ok in /metrics:\n%s", grepLines(body, "dubbomesh_registry_metadata_fetches_total"))
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

// checkDiscovered waits until both services' subset clusters hold exactly
// the provider's Triple endpoint on 127.0.0.1 with the labels Dubbo
// registered.
func (w *javaWorld) checkDiscovered(t *testing.T, registry string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", w.java.Port())
	labels := map[string]string{
		naming.LabelApp:      javaApplication,
		naming.LabelVersion:  "1.0.0",
		naming.LabelProtocol: "tri",
		naming.LabelRegistry: registry,
	}
	group := w.java.Config().Group
	if group != "" {
		labels[naming.LabelGroup] = group
	}
	want := map[string]map[string]string{addr: labels}
	subset := xds.Subset{Group: group, Version: "1.0.0"}
	for _, cluster := range []string{xds.SubsetClusterName(greeterHost, subset), xds.SubsetClusterName(javaUserHost, subset)} {
		xdstest.Eventually(t, 60*time.Second, func() error {
			got, err := edsLabels(t.Context(), w.mesh.xds, cluster)
			if err != nil {
				return err
			}
			if d := cmp.Diff(want, got); d != "" {
				return fmt.Errorf("EDS %s (-want +got):\n%s", cluster, d)
			}
			return nil
		})
	}
}

// checkCalls calls Greet (protobuf) and GetUser / SayHello (hessian2)
// proxyless and through the sidecar, and checks that the Java provider
// answered each.
func (w *javaWorld) checkCalls(t *testing.T) {
	t.Helper()
	from := fmt.Sprintf("from %s@%d v1.0.0", javaApplication, w.java.Port())
	group := w.java.Config().Group
	ctx := metadata.AppendToOutgoingContext(t.Context(), "tri-service-version", "1.0.0")
	if group != "" {
		from += " group=" + group
		ctx = metadata.AppendToOutgoingContext(ctx, "tri-service-group", group)
	}
	greeters := map[string]*grpc.ClientConn{
		"proxyless": xdstest.Dial(t, w.mesh.xds, greeterHost),
		"envoy":     xdstest.DialSidecar(t, w.mesh.outbound, greeterHost),
	}
	for name, cc := range greeters {
		xdstest.Eventually(t, 30*time.Second, func() error {
			got, err := xdstest.Call(ctx, cc, greetMethod, "java")
			if want := "hello java " + from; err != nil || got != want {
				return fmt.Errorf("Greet via %s = %q, %v; want %q", name, got, err, want)
			}
			return nil
		})
	}
	pools := map[string]*triple.Pool{
		"proxyless": triple.NewPool(triple.Target{Proxyless: true}, grpc.WithResolvers(xdstest.Resolver(t, w.mesh.xds))),
		"envoy":     triple.NewPool(triple.Target{Sidecar: w.mesh.outbound}),
	}
	for name, pool := range pools {
		t.Cleanup(func() { _ = pool.Close() })
		xdstest.Eventually(t, 30*time.Second, func() error {
			cctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			var got javaUser
			err := pool.Invoke(cctx, &triple.Call{
				Host: javaUserHost, Interface: testenv.JavaUserInterface, Method: "GetUser", Version: "1.0.0", Group: group,
				Serialization: triple.SerializationHessian2, Args: []any{&javaUser{ID: "u-7", Name: "ada", Age: 41}, "hi"}, Reply: &got,
			})
			if err != nil {
				return fmt.Errorf("GetUser via %s: %w", name, err)
			}
			if want := (javaUser{ID: "u-7", Name: "hi ada " + from, Age: 42}); got != want {
				return fmt.Errorf("GetUser via %s = %+v, want %+v", name, got, want)
			}
			var hello string
			err = pool.Invoke(cctx, &triple.Call{
				Host: javaUserHost, Interface: testenv.JavaUserInterface, Method: "SayHello", Version: "1.0.0", Group: group,
				Serialization: triple.SerializationHessian2, Args: []any{"bob"}, Reply: &hello,
			})
			if want := "hello bob " + from; err != nil || hello != want {
				return fmt.Errorf("SayHello via %s = %q, %v; want %q", name, hello, err, want)
			}
			return nil
		})
	}
}

// checkConsumer runs a real dubbo-go consumer of service ("user": the
// hessian2 UserService.GetUser, for providers without a group, as the
// example consumer sets none on it; "greeter": the protobuf Greeter.Greet) with
// the adapter in mesh mode: every call goes through the sidecar to the Java
// provider, none falls back.
func (w *javaWorld) checkConsumer(t *testing.T, service string) {
	t.Helper()
	const calls = 50
	c := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Service: service, Group: w.java.Config().Group, Calls: calls, Workers: 2, Arg: "u-9",
		Env: map[string]string{"DUBBOMESH_MODE": "mesh", "DUBBOMESH_SIDECAR": w.mesh.outbound}})
	sum := c.Wait(t, 2*time.Minute)
	if sum.Failed != 0 || sum.Calls != calls || sum.Mesh != calls || len(sum.Fallbacks) != 0 {
		t.Fatalf("%s consumer: %v; want %d calls on the mesh path, none failed, no fallback", service, sum, calls)
	}
	if n := sum.Providers[fmt.Sprintf("%s@%d", javaApplication, w.java.Port())]; n != calls {
		t.Errorf("%s consumer: answers by provider %v, want %d from the Java provider", service, sum.Providers, calls)
	}
}

// edsLabels asks the xDS server at addr once for every
// ClusterLoadAssignment and returns cluster's endpoints (address →
// envoy.lb labels).
func edsLabels(ctx context.Context, addr, cluster string) (map[string]map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "java-eds", UserAgentName: "e2e"}, TypeUrl: resourcev3.EndpointType}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	for _, a := range resp.GetResources() {
		var cla endpointv3.ClusterLoadAssignment
		if err := a.UnmarshalTo(&cla); err != nil {
			return nil, err
		}
		if cla.GetClusterName() != cluster {
			continue
		}
		out := map[string]map[string]string{}
		for _, l := range cla.GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				sa := e.GetEndpoint().GetAddress().GetSocketAddress()
				labels := map[string]string{}
				for k, v := range e.GetMetadata().GetFilterMetadata()["envoy.lb"].GetFields() {
					if k == naming.LabelApp || k == naming.LabelVersion || k == naming.LabelProtocol || k == naming.LabelRegistry || k == naming.LabelGroup {
						labels[k] = v.GetStringValue()
					}
				}
				out[fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())] = labels
			}
		}
		return out, nil
	}
	var names []string
	for _, a := range resp.GetResources() {
		var cla endpointv3.ClusterLoadAssignment
		if a.UnmarshalTo(&cla) == nil {
			names = append(names, cla.GetClusterName())
		}
	}
	return nil, fmt.Errorf("no cluster %s in EDS (have %s)", cluster, strings.Join(names, ", "))
}

// TestJavaProviderZooKeeper: a real Apache Dubbo Java 3.3 provider (plain
// DubboBootstrap, Triple) registered in a real ZooKeeper in each register
// mode, and with remote metadata, is discovered by dubbomesh with its
// loopback host, port and labels, answers protobuf and hessian2 calls
// proxyless and through an Envoy sidecar, and a dubbo-go consumer with the
// adapter reaches its hessian2 method over the mesh path.
func TestJavaProviderZooKeeper(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       testenv.JavaProviderConfig
		consumers []string
	}{
		{"all", testenv.JavaProviderConfig{RegisterMode: "all"}, []string{"user", "greeter"}},
		{"interface", testenv.JavaProviderConfig{RegisterMode: "interface"}, []string{"user"}},
		{"instance", testenv.JavaProviderConfig{RegisterMode: "instance"}, []string{"user"}},
		{"instance-remote-metadata-group", testenv.JavaProviderConfig{RegisterMode: "instance", MetadataType: "remote", Group: "east"}, []string{"greeter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zk := testenv.StartZooKeeper(t)
			w := startJavaWorld(t, "zookeeper://"+zk.Addr(), tc.cfg)
			w.run(t, "zookeeper", tc.consumers...)
		})
	}
}

// TestJavaProviderNacos: the same against a real Nacos server (rnacos),
// interface- and application-level, the latter with local and remote
// metadata (Dubbo Java's metadata report in the Nacos config center).
func TestJavaProviderNacos(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       testenv.JavaProviderConfig
		consumers []string
	}{
		{"interface", testenv.JavaProviderConfig{RegisterMode: "interface"}, []string{"user"}},
		{"instance-group", testenv.JavaProviderConfig{RegisterMode: "instance", Group: "east"}, []string{"greeter"}},
		{"instance-remote-metadata", testenv.JavaProviderConfig{RegisterMode: "instance", MetadataType: "remote"}, []string{"user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := testenv.StartNacos(t)
			w := startJavaWorld(t, "nacos://"+nc.Addr(), tc.cfg)
			w.run(t, "nacos", tc.consumers...)
		})
	}
}
