package testenv

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarnessKeys: the cache key of each nested harness module is the one
// scripts/lib.sh and scripts/tools/*.sh compute, so the tests find the
// binary the test command built.
func TestHarnessKeys(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]string{"istiod": "istiod_harness_key", "kubeapiserver": "kubeapiserver_key"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), "bash", "-c", "source scripts/lib.sh && "+fn)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s in %s: %v", fn, filepath.Join(root, "scripts"), err)
			}
			got, err := harnessKey(name)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSpace(string(out)); got != want {
				t.Errorf("harnessKey(%q) = %q, scripts say %q", name, got, want)
			}
		})
	}
}
