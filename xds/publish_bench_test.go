package xds

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/dubbomesh/dubbomesh/registry"
)

// benchServices returns n interface services of 10 endpoints each; round
// changes every endpoint's weight so that each call publishes new content.
func benchServices(n, round int) []registry.Service {
	out := make([]registry.Service, n)
	for i := range out {
		eps := make([]registry.Endpoint, 10)
		for j := range eps {
			eps[j] = registry.Endpoint{
				Host: fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256), Port: uint32(20000 + j), Protocol: registry.ProtocolTriple,
				Application: fmt.Sprintf("app%d", i%100), Version: "1.0.0", Weight: uint32(100 + round%2), LoadBalance: "random",
				Registries: []string{"zk"},
			}
		}
		out[i] = registry.Service{Key: registry.ServiceKey{Kind: registry.KindInterface, Name: fmt.Sprintf("org.example.Service%d", i)}, Endpoints: eps}
	}
	return out
}

// BenchmarkPublish publishes a change to every endpoint of 1000 services
// of 10 endpoints: the translation and the cache updates of a full push.
func BenchmarkPublish(b *testing.B) {
	cfg := Config{}
	cfg.setDefaults()
	rounds := [2][]registry.Service{benchServices(1000, 0), benchServices(1000, 1)}
	p := newPublisher(&cfg.Translation, newCaches(), slog.New(slog.DiscardHandler), newMetrics())
	if err := p.setStatic(); err != nil {
		b.Fatal(err)
	}
	p.apply(rounds[1])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.apply(rounds[i%2])
		i++
	}
}
