package adapter

import (
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/leakcheck"
)

// TestMain fails the package's tests if a goroutine outlives them, but for
// those of the in-process dubbo-go client the benchmarks run, which
// dubbo-go cannot stop.
func TestMain(m *testing.M) { leakcheck.Main(m, leakcheck.DubboGo) }
