package registry_test

import (
	"fmt"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Two registries report the same provider: the merged view has it once,
// with both as its provenance.
func ExampleMerger() {
	m := registry.NewMerger([]string{"zk", "nacos"})
	svc := registry.Service{
		Key: registry.ServiceKey{Kind: registry.KindInterface, Name: "org.example.Greeter"},
		Endpoints: []registry.Endpoint{
			{Host: "10.0.0.1", Port: 50051, Protocol: registry.ProtocolTriple, Weight: 100},
		},
	}
	m.Update("zk", svc)
	m.Update("nacos", svc)
	m.Synced("zk")
	m.Synced("nacos")
	<-m.Ready()
	for _, s := range m.Drain() {
		for _, e := range s.Endpoints {
			fmt.Println(s.Key, e.Host, e.Port, e.Protocol, e.Registries)
		}
	}
	// Output: interface:org.example.Greeter 10.0.0.1 50051 tri [nacos zk]
}
