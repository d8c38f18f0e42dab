package istio

import (
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/google/go-cmp/cmp"
	mcp "istio.io/api/mcp/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/dubbomesh/dubbomesh/registry"
)

const (
	seType = "networking.istio.io/v1/ServiceEntry"
	weType = "networking.istio.io/v1alpha3/WorkloadEntry"
	gwType = "networking.istio.io/v1/Gateway" // a type dubbomesh does not generate
)

func recv(t *testing.T, ch chan cache.Response) *cache.PassthroughResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r.(*cache.PassthroughResponse)
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
		return nil
	}
}

func quiet(t *testing.T, ch chan cache.Response) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected response %v", r)
	case <-time.After(50 * time.Millisecond):
	}
}

func names(t *testing.T, r *cache.PassthroughResponse) []string {
	t.Helper()
	var out []string
	for _, a := range r.DiscoveryResponse.GetResources() {
		m := new(mcp.Resource)
		if err := a.UnmarshalTo(m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m.GetMetadata().GetName())
	}
	return out
}

// TestFullState: every response holds the full state of the requested
// kind, echoes the request's type URL, and comes only when the client's
// version differs.
func TestFullState(t *testing.T) {
	p, err := New(Config{Endpoints: EndpointsWorkloadEntry, EmptyHostGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "istiod"}
	watch := func(typeURL, version string) chan cache.Response {
		ch := make(chan cache.Response, 1)
		if _, err := p.CreateWatch(&cache.Request{Node: node, TypeUrl: typeURL, VersionInfo: version}, nil, ch); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	svc := func(name string, hosts ...string) registry.Service {
		s := registry.Service{Key: registry.ServiceKey{Name: name}}
		for _, h := range hosts {
			s.Endpoints = append(s.Endpoints, ep(h, 20000, registry.ProtocolTriple, "app", "1.0.0"))
		}
		return s
	}

	// Types dubbomesh does not own: an empty list, at once.
	dr := recv(t, watch(gwType, ""))
	if dr.DiscoveryResponse.GetTypeUrl() != gwType || len(dr.DiscoveryResponse.GetResources()) != 0 {
		t.Fatalf("Gateway response = %v", dr.DiscoveryResponse)
	}
	// Same version: the watch waits.
	quiet(t, watch(gwType, dr.DiscoveryResponse.GetVersionInfo()))

	p.Apply([]registry.Service{svc("a.A", "10.0.0.1"), svc("b.B", "10.0.0.2", "10.0.0.3")})
	se := recv(t, watch(seType, ""))
	if got := se.DiscoveryResponse.GetTypeUrl(); got != seType {
		t.Errorf("type URL = %q, want the request's %q", got, seType)
	}
	if d := cmp.Diff([]string{"dubbo/a-a-dubbo", "dubbo/b-b-dubbo"}, names(t, se)); d != "" {
		t.Errorf("ServiceEntries (-want +got):\n%s", d)
	}
	we := recv(t, watch(weType, ""))
	if got := len(we.DiscoveryResponse.GetResources()); got != 3 {
		t.Errorf("WorkloadEntries = %d, want 3", got)
	}

	// An endpoint-only change: WorkloadEntries change, ServiceEntries do not.
	seWatch := watch(seType, se.DiscoveryResponse.GetVersionInfo())
	weWatch := watch(weType, we.DiscoveryResponse.GetVersionInfo())
	p.Apply([]registry.Service{svc("b.B", "10.0.0.2")})
	we2 := recv(t, weWatch)
	if got := len(we2.DiscoveryResponse.GetResources()); got != 2 {
		t.Errorf("WorkloadEntries after removing one = %d, want 2 (full state)", got)
	}
	quiet(t, seWatch)

	// Re-applying the same state changes no version.
	p.Apply([]registry.Service{svc("b.B", "10.0.0.2")})
	quiet(t, watch(weType, we2.DiscoveryResponse.GetVersionInfo()))

	// A removed service takes its ServiceEntry and WorkloadEntries along.
	p.Apply([]registry.Service{{Key: registry.ServiceKey{Name: "b.B"}}})
	if d := cmp.Diff([]string{"dubbo/a-a-dubbo"}, names(t, recv(t, seWatch2(t, p, node, se)))); d != "" {
		t.Errorf("ServiceEntries after removal (-want +got):\n%s", d)
	}

	if _, err := p.CreateDeltaWatch(&cache.DeltaRequest{TypeUrl: seType}, nil, nil); err == nil {
		t.Error("delta watch accepted")
	}
}

func seWatch2(t *testing.T, p *Publisher, node *corev3.Node, prev *cache.PassthroughResponse) chan cache.Response {
	t.Helper()
	ch := make(chan cache.Response, 1)
	if _, err := p.CreateWatch(&cache.Request{Node: node, TypeUrl: seType, VersionInfo: prev.DiscoveryResponse.GetVersionInfo()}, nil, ch); err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestServes(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for typeURL, want := range map[string]bool{
		seType: true, gwType: true, "core/v1alpha1/MeshConfig": true,
		"type.googleapis.com/envoy.config.cluster.v3.Cluster": false,
	} {
		if got := p.Serves(typeURL); got != want {
			t.Errorf("Serves(%q) = %v, want %v", typeURL, got, want)
		}
	}
}

// TestHostHandover (workloadEntry shape): when a mesh host changes owner
// (xds's host stage sends the old owner's removal and the new owner's state
// in one batch), the ServiceEntry stays and the WorkloadEntries become the
// new owner's.
func TestHostHandover(t *testing.T) {
	p, err := New(Config{Endpoints: EndpointsWorkloadEntry})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "istiod"}
	state := func(typeURL string) *cache.PassthroughResponse {
		ch := make(chan cache.Response, 1)
		if _, err := p.CreateWatch(&cache.Request{Node: node, TypeUrl: typeURL}, nil, ch); err != nil {
			t.Fatal(err)
		}
		return recv(t, ch)
	}
	addresses := func(r *cache.PassthroughResponse) []string {
		var out []string
		for _, a := range r.DiscoveryResponse.GetResources() {
			m := new(mcp.Resource)
			we := new(networking.WorkloadEntry)
			if err := a.UnmarshalTo(m); err != nil {
				t.Fatal(err)
			}
			if err := m.GetBody().UnmarshalTo(we); err != nil {
				t.Fatal(err)
			}
			out = append(out, we.GetAddress())
		}
		return out
	}
	upper := registry.ServiceKey{Name: "com.foo.Greeter"}
	lower := registry.ServiceKey{Name: "com.foo.greeter"} // same host
	p.Apply([]registry.Service{{Key: lower, Endpoints: []registry.Endpoint{ep("10.0.0.1", 20000, registry.ProtocolTriple, "a", "")}}})
	p.Apply([]registry.Service{
		{Key: lower},
		{Key: upper, Endpoints: []registry.Endpoint{ep("10.0.0.9", 20000, registry.ProtocolTriple, "b", "")}},
	})
	if d := cmp.Diff([]string{"dubbo/com-foo-greeter-dubbo"}, names(t, state(seType))); d != "" {
		t.Errorf("ServiceEntries (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"10.0.0.9"}, addresses(state(weType))); d != "" {
		t.Errorf("WorkloadEntries (-want +got):\n%s", d)
	}
}

// TestFullStateNeverBlocks: a watch whose channel is full (an ADS stream
// has one channel of room for 10 for every type, istiod asks for ~15)
// neither blocks CreateWatch, which runs on the stream's own goroutine, nor
// a publish; the response is delivered once the stream reads, and a
// cancelled watch leaves no goroutine behind (the package's leak check).
func TestFullStateNeverBlocks(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "istiod"}
	full := make(chan cache.Response) // no room: as full as it gets
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		if _, err := p.CreateWatch(&cache.Request{Node: node, TypeUrl: seType}, nil, full); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("CreateWatch blocked on a full channel")
	}
	if r := recv(t, full); r.DiscoveryResponse.GetTypeUrl() != seType {
		t.Errorf("response type %q", r.DiscoveryResponse.GetTypeUrl())
	}

	// A pending watch on a full channel, then a publish: Apply returns.
	v := p.Version(KindServiceEntry)
	cancel, err := p.CreateWatch(&cache.Request{Node: node, TypeUrl: seType, VersionInfo: v}, nil, full)
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan struct{})
	go func() {
		p.Apply([]registry.Service{{Key: registry.ServiceKey{Name: "a.A"}, Endpoints: []registry.Endpoint{ep("10.0.0.1", 20000, registry.ProtocolTriple, "a", "")}}})
		close(applied)
	}()
	select {
	case <-applied:
	case <-time.After(5 * time.Second):
		t.Fatal("Apply blocked on a full watch channel")
	}
	cancel() // the stream ended before reading: the sender goroutine ends
	cancel() // safe twice
}
