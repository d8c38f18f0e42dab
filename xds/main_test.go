package xds

import (
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/leakcheck"
)

// TestMain fails the package's tests if a goroutine outlives them; the
// mutual-TLS test leaves grpc-go's xDS certificate watcher running.
func TestMain(m *testing.M) { leakcheck.Main(m, leakcheck.GRPCXDSTLS) }
