package adapter

import (
	"fmt"
	"testing"

	"dubbo.apache.org/dubbo-go/v3/cluster/directory/static"
	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/protocol/base"
	"dubbo.apache.org/dubbo-go/v3/protocol/invocation"
)

func providerURL(t testing.TB, raw string) *common.URL {
	t.Helper()
	u, err := common.NewURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func invokers(t testing.TB, raws ...string) []base.Invoker {
	t.Helper()
	out := make([]base.Invoker, len(raws))
	for i, r := range raws {
		out[i] = base.NewBaseInvoker(providerURL(t, r))
	}
	return out
}

// TestProviderView: a reference's providers are meshable when one exports
// Triple or gRPC, not when all export Dubbo2 only; none at all means no
// direct path (and the mesh is tried). first prefers a provider of the
// reference's own service key.
func TestProviderView(t *testing.T) {
	const key = "org.example.Greeter:1.0.0"
	for _, tt := range []struct {
		name         string
		urls         []string
		wantCount    int
		wantMeshable bool
		wantFirst    string // first's location
	}{
		{"none", nil, 0, true, ""},
		{"dubbo2 only", []string{"dubbo://127.0.0.1:20880/org.example.Greeter?version=1.0.0", "dubbo://127.0.0.2:20880/org.example.Greeter?version=1.0.0"}, 2, false, "127.0.0.1:20880"},
		{"triple", []string{"tri://127.0.0.1:50051/org.example.Greeter?version=1.0.0"}, 1, true, "127.0.0.1:50051"},
		{"grpc", []string{"grpc://127.0.0.1:50051/org.example.Greeter?version=1.0.0"}, 1, true, "127.0.0.1:50051"},
		{"dubbo2 and triple", []string{"dubbo://127.0.0.1:20880/org.example.Greeter?version=1.0.0", "tri://127.0.0.1:50051/org.example.Greeter?version=1.0.0"}, 2, true, "127.0.0.1:20880"},
		{"first of the reference's key", []string{"tri://127.0.0.9:50051/org.example.Greeter?version=2.0.0", "tri://127.0.0.1:50051/org.example.Greeter?version=1.0.0"}, 2, true, "127.0.0.1:50051"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newProviderView(invokers(t, tt.urls...), key)
			first := ""
			if v.first != nil {
				first = v.first.Location
			}
			if v.count != tt.wantCount || v.meshable != tt.wantMeshable || first != tt.wantFirst {
				t.Errorf("view = {count %d, meshable %v, first %q}, want {%d, %v, %q}", v.count, v.meshable, first, tt.wantCount, tt.wantMeshable, tt.wantFirst)
			}
		})
	}
}

// TestProviderWatch: a directory built by dubbo-go carries the adapter's
// watch on its URL, filled from its invokers; a change of the router
// chain's invokers (as a registry notification makes) updates it.
func TestProviderWatch(t *testing.T) {
	dir := static.NewDirectory(invokers(t,
		"dubbo://127.0.0.1:20880/org.example.Greeter",
		"dubbo://127.0.0.2:20880/org.example.Greeter"))
	w := watchOf(dir.GetURL())
	if w == nil {
		t.Fatal("the directory's URL has no provider watch")
	}
	if v := w.load(); v.count != 2 || v.meshable {
		t.Fatalf("view = %+v, want 2 Dubbo2-only providers", v)
	}
	dir.RouterChain().SetInvokers(invokers(t, "tri://127.0.0.3:50051/org.example.Greeter"))
	if v := w.load(); v.count != 1 || !v.meshable {
		t.Errorf("after the change: view = %+v, want 1 Triple provider", v)
	}
	dir.RouterChain().SetInvokers(nil)
	if v := w.load(); v.count != 0 || !v.meshable {
		t.Errorf("after the last left: view = %+v, want none (mesh only)", v)
	}
}

// BenchmarkProviders compares what a mesh call pays to learn its
// reference's providers: listing the directory and deriving the view on
// every call (what the adapter did), and loading the watched view.
func BenchmarkProviders(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		urls := make([]string, n)
		for j := range urls {
			urls[j] = fmt.Sprintf("tri://127.0.0.%d:50051/org.example.Greeter?loadbalance=random", j+1)
		}
		dir := static.NewDirectory(invokers(b, urls...))
		inv := invocation.NewRPCInvocationWithOptions(invocation.WithMethodName("Greet"))
		i := &invoker{dir: dir, url: providerURL(b, "tri://127.0.0.1/org.example.Greeter?"+constant.InterfaceKey+"=org.example.Greeter")}
		b.Run(fmt.Sprintf("list-per-call/providers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v := i.providers(inv); v.count != n {
					b.Fatal(v.count)
				}
			}
		})
		i.watch = watchOf(dir.GetURL())
		if i.watch == nil {
			b.Fatal("no watch")
		}
		b.Run(fmt.Sprintf("watched/providers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v := i.providers(inv); v.count != n {
					b.Fatal(v.count)
				}
			}
		})
	}
}

// TestReferenceWatch: a reference with two directories (two registries,
// or one registry subscribed both ways) is mesh-only or Dubbo2-only only
// when both say so.
func TestReferenceWatch(t *testing.T) {
	ref := providerURL(t, "tri://127.0.0.1/org.example.Greeter")
	routers := make([]*providersRouter, 2)
	for i := range routers {
		reg := providerURL(t, fmt.Sprintf("registry://127.0.0.1:%d", 2181+i))
		reg.SubURL = ref
		r, err := providersRouterFactory{}.NewPriorityRouter(reg)
		if err != nil {
			t.Fatal(err)
		}
		routers[i] = r.(*providersRouter)
	}
	ref0 := routers[0].watch.ref
	if routers[1].watch.ref != ref0 {
		t.Fatal("the two directories of one reference have different reference watches")
	}
	if v := ref0.load(); v.count != 0 || !v.meshable {
		t.Fatalf("no providers anywhere: %+v, want a mesh-only view", v)
	}
	routers[1].Notify(invokers(t, "dubbo://127.0.0.1:20880/org.example.Greeter"))
	if v := ref0.load(); v.count != 1 || v.meshable {
		t.Errorf("one Dubbo2 provider in the second directory: %+v, want count 1, not meshable", v)
	}
	routers[0].Notify(invokers(t, "tri://127.0.0.1:50051/org.example.Greeter"))
	if v := ref0.load(); v.count != 2 || !v.meshable {
		t.Errorf("and a Triple one in the first: %+v, want count 2, meshable", v)
	}
	routers[0].Notify(nil)
	routers[1].Notify(nil)
	if v := ref0.load(); v.count != 0 || !v.meshable {
		t.Errorf("all gone: %+v, want a mesh-only view", v)
	}
}
