package main

import (
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/leakcheck"
)

// TestMain fails the package's tests if a goroutine outlives them, but for
// those nacos-sdk-go never stops.
func TestMain(m *testing.M) { leakcheck.Main(m, leakcheck.NacosSDK) }
