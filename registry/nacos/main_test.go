package nacos

import (
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/leakcheck"
)

// TestMain fails the package's tests if a goroutine outlives them, but for
// those nacos-sdk-go never stops, and the gRPC callback serializers it
// leaves behind when it reconnects (seen against Alibaba's Nacos and, in
// the restart tests, against rnacos). This package makes no gRPC client of
// its own, so that ignore hides no leak of ours.
func TestMain(m *testing.M) {
	leakcheck.Main(m, leakcheck.NacosSDK, leakcheck.AlibabaNacos)
}
