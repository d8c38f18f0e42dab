package configurator

import (
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
