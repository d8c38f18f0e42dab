package proxyless_test

import (
	"testing"

	"github.com/dubbomesh/dubbomesh/triple"

	_ "github.com/dubbomesh/dubbomesh/adapter/proxyless"
)

func TestLinksXDSResolver(t *testing.T) {
	if !triple.XDSResolverLinked() {
		t.Fatal("importing adapter/proxyless did not register grpc-go's xds resolver")
	}
	p := triple.NewPool(triple.Target{Proxyless: true})
	defer p.Close()
	if _, err := p.Conn("greeter.dubbo"); err != nil {
		t.Fatalf("proxyless Conn: %v", err)
	}
}
