package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeSection returns README.md's text from the heading start to the
// next heading of the same level.
func readmeSection(t *testing.T, start string) string {
	t.Helper()
	data, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "\n"+start+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", start)
	}
	s = s[i+len(start)+2:]
	level := start[:strings.IndexByte(start, ' ')+1]
	if j := strings.Index(s, "\n"+level); j >= 0 {
		s = s[:j]
	}
	return s
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestREADMEConfiguration: the configuration README.md shows is what Parse
// accepts, and every variable it names is one ApplyEnv reads.
func TestREADMEConfiguration(t *testing.T) {
	var docs []string
	for _, section := range []string{"## Configuration", "## Istio"} {
		for _, m := range yamlBlock.FindAllStringSubmatch(readmeSection(t, section), -1) {
			// Blocks of istiod's or Kubernetes' config are not ours.
			if strings.HasPrefix(m[1], "registries:") || strings.HasPrefix(m[1], "istio:") {
				docs = append(docs, m[1])
			}
		}
	}
	if len(docs) != 2 {
		t.Fatalf("found %d dubbomesh YAML blocks in README.md, want 2 (Configuration, Istio)", len(docs))
	}
	for _, doc := range docs {
		c, err := Parse(strings.NewReader(doc))
		if err != nil {
			t.Errorf("README.md block does not parse: %v\n%s", err, doc)
			continue
		}
		if _, err := c.Sources(); err != nil {
			t.Errorf("README.md registries: %v", err)
		}
	}

	var c Config
	// The adapter's variables, which these sections mention for the apps
	// (the control plane does not import the adapter to ask it).
	known := map[string]bool{"DUBBOMESH_HOST_TEMPLATE": true, "DUBBOMESH_SIDECAR": true}
	for _, k := range c.Keys() {
		known[EnvName(k)] = true
	}
	text := readmeSection(t, "## Configuration") + readmeSection(t, "## Istio")
	for _, name := range regexp.MustCompile(`DUBBOMESH_[A-Z0-9_]+`).FindAllString(text, -1) {
		if !known[name] {
			t.Errorf("README.md names %s, which is not a configuration variable", name)
		}
	}
}
