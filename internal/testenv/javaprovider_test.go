package testenv

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestJavaProviderKeyMatchesScript: the cache key internal/testenv looks
// for is the one scripts/tools/javaprovider.sh builds under, else tests
// would never find the provider the test command built.
func TestJavaProviderKeyMatchesScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		missing(t, "bash", "install bash")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bash, "-c", "source scripts/lib.sh && javaprovider_key")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("javaprovider_key: %v", err)
	}
	want := strings.TrimSpace(string(out))
	got, err := javaProviderKey(filepath.Join(root, "test", "java-provider"))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 12 || got != want {
		t.Errorf("javaProviderKey = %q, scripts/tools/javaprovider.sh says %q", got, want)
	}
}
