package testenv

import "testing"

// EnvChromium names the headless browser (Debian's chromium package;
// scripts/tools/chromium.sh).
const EnvChromium = "DUBBOMESH_CHROMIUM"

// ChromiumBinary returns the chromium binary, or skips (or fails, see
// Required) when it is not installed.
func ChromiumBinary(t testing.TB) string {
	t.Helper()
	bin, ok := lookPath(EnvChromium, "chromium")
	if !ok {
		missing(t, "chromium", "apt-get install -y chromium (scripts/tools/chromium.sh)")
	}
	return bin
}
