package adapter

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEConfiguration: the dubbo.mesh section and the routing document
// README.md shows are what the adapter accepts.
func TestREADMEConfiguration(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	start := strings.Index(s, "\n## App side: the one import\n")
	if start < 0 {
		t.Fatal("README.md has no App side section")
	}
	s = s[start+1:]
	if end := strings.Index(s[3:], "\n## "); end >= 0 {
		s = s[:end+3]
	}
	var mesh, routing []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(s, -1) {
		switch {
		case strings.HasPrefix(m[1], "dubbo:\n  mesh:"):
			mesh = append(mesh, m[1])
		case strings.HasPrefix(m[1], "default:"):
			routing = append(routing, m[1])
		}
	}
	if len(mesh) != 1 || len(routing) != 1 {
		t.Fatalf("found %d dubbo.mesh and %d routing blocks in README.md's App side section, want 1 each", len(mesh), len(routing))
	}
	path := filepath.Join(t.TempDir(), "dubbogo.yaml")
	if err := os.WriteFile(path, []byte(mesh[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := applyDubbogoYAML(&c, path); err != nil {
		t.Errorf("README.md dubbo.mesh: %v\n%s", err, mesh[0])
	} else if err := c.Validate(); err != nil {
		t.Errorf("README.md dubbo.mesh: %v", err)
	}
	if _, err := ParseRouting(strings.NewReader(routing[0])); err != nil {
		t.Errorf("README.md routing document: %v\n%s", err, routing[0])
	}
}

// TestEveryFieldTagged: every field of the dubbo.mesh section's types has
// an explicit yaml tag, so a new field gets a deliberate key.
func TestEveryFieldTagged(t *testing.T) {
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, ok := f.Tag.Lookup("yaml")
			if !ok || tag == "" {
				t.Errorf("%s.%s (%s) has no yaml tag", path, f.Name, typ)
				continue
			}
			if name, _, _ := strings.Cut(tag, ","); name == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
				walk(path+"."+f.Name, ft)
			}
		}
	}
	walk("Config", reflect.TypeFor[Config]())
}
