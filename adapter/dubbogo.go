package adapter

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"gopkg.in/yaml.v3"
)

// Where dubbo-go looks for the application's configuration file.
const (
	envDubbogoPath     = "DUBBO_GO_CONFIG_PATH"
	defaultDubbogoPath = "../conf/dubbogo.yaml"
)

// applyDubbogoYAML decodes the dubbo.mesh section of the file at path (a
// Config) over c:
//
//	dubbo:
//	  mesh:
//	    default: {mode: dual, meshWeight: 70, idempotent: [GetUser]}
//	    services:
//	      org.example.OrderService: {mode: legacy}
//	    breaker: {consecutiveFailures: 10, cooldown: 5s}
//	    sidecar: 127.0.0.1:15001
//	    naming: {interfaceTemplate: "{interface}.dubbo"}
//	    routingFile: /etc/dubbomesh/routing.yaml
//	    configCenter: {url: "zookeeper://127.0.0.1:2181"}
//
// A missing file or section changes nothing; a malformed one, or an
// unknown key, is an error.
func applyDubbogoYAML(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	var doc struct {
		Dubbo struct {
			Mesh yaml.Node `yaml:"mesh"`
		} `yaml:"dubbo"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	if doc.Dubbo.Mesh.Kind == 0 {
		return nil
	}
	// Decode the section strictly, so a typo does not silently fall back to
	// a default.
	section, err := yaml.Marshal(&doc.Dubbo.Mesh)
	if err != nil {
		return err
	}
	// Decode over the defaults in c: keys the section leaves out keep them.
	dec := yaml.NewDecoder(bytes.NewReader(section))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%w: %s: dubbo.mesh: %w", ErrInvalidConfig, path, err)
	}
	return nil
}
