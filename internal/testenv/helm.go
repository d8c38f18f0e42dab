package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"testing"
)

// EnvHelm names the helm binary (built by scripts/tools/helm.sh).
const EnvHelm = "DUBBOMESH_HELM"

// HelmBinary returns helm: $DUBBOMESH_HELM, or helm in PATH. It skips the
// test (or fails it, see Required) when there is none.
func HelmBinary(t testing.TB) string {
	t.Helper()
	p, ok := lookPath(EnvHelm, "helm")
	if !ok {
		missing(t, "helm", "run ./scripts/test.sh, which builds helm from the Go module proxy, or set "+EnvHelm)
	}
	return p
}

// Helm runs helm with args and returns its standard output; a failure
// returns an error holding helm's standard error.
func Helm(ctx context.Context, t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, HelmBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No repositories, plugins or caches of the machine's user.
	dir := t.TempDir()
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir)
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %v: %w: %s", args, err, stderr.Bytes())
	}
	return stdout.String(), nil
}
