package nacos

import (
	"os"
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/leakcheck"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

// TestMain fails the package's tests if a goroutine outlives them, but for
// those nacos-sdk-go never stops (and, in the network namespace of a test
// against Alibaba's Nacos, those it leaves after reconnecting).
func TestMain(m *testing.M) {
	if os.Getenv(testenv.EnvNetns) != "" {
		leakcheck.Main(m, leakcheck.NacosSDK, leakcheck.AlibabaNacos)
	} else {
		leakcheck.Main(m, leakcheck.NacosSDK)
	}
}
