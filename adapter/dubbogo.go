package adapter

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/router"
)

// Where dubbo-go looks for the application's configuration file.
const (
	envDubbogoPath     = "DUBBO_GO_CONFIG_PATH"
	defaultDubbogoPath = "../conf/dubbogo.yaml"
)

// meshSection is the `dubbo.mesh` section of dubbogo.yaml:
//
//	dubbo:
//	  mesh:
//	    mode: dual
//	    meshWeight: 70
//	    idempotent: [GetUser]
//	    sidecar: 127.0.0.1:15001
//	    routingFile: /etc/dubbomesh/routing.yaml
//	    configCenter: {url: "zookeeper://127.0.0.1:2181"}
//	    services:
//	      org.example.OrderService: {mode: legacy}
//	    breaker: {consecutiveFailures: 10, cooldown: 5s}
type meshSection struct {
	Mode         router.Mode               `yaml:"mode"`
	MeshWeight   int                       `yaml:"meshWeight"`
	Idempotent   []string                  `yaml:"idempotent"`
	Services     map[string]router.Service `yaml:"services"`
	Breaker      policy.Breaker            `yaml:"breaker"`
	Sidecar      string                    `yaml:"sidecar"`
	Proxyless    bool                      `yaml:"proxyless"`
	HostTemplate string                    `yaml:"hostTemplate"`
	RoutingFile  string                    `yaml:"routingFile"`
	ConfigCenter ConfigCenter              `yaml:"configCenter"`
}

// applyDubbogoYAML applies the dubbo.mesh section of the file at path to c.
// A missing file or section changes nothing; a malformed one is an error.
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
	var m meshSection
	dec := yaml.NewDecoder(bytes.NewReader(section))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("%w: %s: dubbo.mesh: %w", ErrInvalidConfig, path, err)
	}
	if m.Mode != "" {
		c.Routing.Default.Mode = m.Mode
	}
	c.Routing.Default.MeshWeight = m.MeshWeight
	c.Routing.Default.Idempotent = m.Idempotent
	c.Routing.Services = m.Services
	c.Routing.Breaker = m.Breaker
	if m.Sidecar != "" {
		c.Target.Sidecar = m.Sidecar
	}
	c.Target.Proxyless = m.Proxyless
	c.Hosts.InterfaceTemplate = m.HostTemplate
	c.RoutingFile = m.RoutingFile
	c.ConfigCenter = m.ConfigCenter
	return nil
}
