package xds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
)

// A Port is an extra listen address of an extension: its own gRPC server
// (ADS only) with the main port's TLS, keepalive and message limits, its
// watches held behind the same gate as the main port's, answered by Cache.
// xds/istio serves its shards 1…S−1 this way.
type Port struct {
	Address string
	Cache   cache.Cache
	// Streams, if not nil, is told about the port's streams.
	Streams StreamObserver
}

// A PortsExtension is an Extension that also serves ports of its own.
type PortsExtension interface {
	Extension
	// Ports returns the extra ports. Serve calls it once and fails if one
	// of them cannot be bound.
	Ports() []Port
}

// A StreamObserver is told about the SotW streams of a port: an Extension
// that implements it observes the main port, a Port's Streams its own port.
// Calls come from the streams' goroutines and must not block; stream ids
// are unique per port only.
type StreamObserver interface {
	// StreamRequest is called for every request of stream id.
	StreamRequest(id int64, typeURL string)
	// StreamClosed is called once when stream id ends.
	StreamClosed(id int64)
}

// observers are the extensions that observe the main port's streams.
func (s *Server) observers() []StreamObserver {
	var out []StreamObserver
	for _, e := range s.extensions {
		if o, ok := e.(StreamObserver); ok {
			out = append(out, o)
		}
	}
	return out
}

// servePorts listens on every extension's extra ports and serves them in g
// until ctx is done.
func (s *Server) servePorts(ctx context.Context, g *errgroup.Group) error {
	var ports []Port
	for _, e := range s.extensions {
		if pe, ok := e.(PortsExtension); ok {
			ports = append(ports, pe.Ports()...)
		}
	}
	var lc net.ListenConfig
	listeners := make([]net.Listener, 0, len(ports))
	for _, p := range ports {
		lis, err := lc.Listen(ctx, "tcp", p.Address)
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			return fmt.Errorf("xds: listen on extension port: %w", err)
		}
		listeners = append(listeners, lis)
	}
	for i, p := range ports {
		var obs []StreamObserver
		if p.Streams != nil {
			obs = append(obs, p.Streams)
		}
		gs := s.grpcServerFor(ctx, &gate{Cache: p.Cache, open: s.gate.open}, obs)
		lis := listeners[i]
		g.Go(func() error {
			s.log.Info("serving xDS extension port", "address", lis.Addr().String())
			if err := gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				return fmt.Errorf("xds: serve %s: %w", lis.Addr(), err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			stopped := make(chan struct{})
			go func() { gs.GracefulStop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(5 * time.Second):
				gs.Stop()
			}
			return nil
		})
	}
	return nil
}
