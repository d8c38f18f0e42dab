package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dubbomesh/dubbomesh/policy"
)

// Mode says how a service's calls are split between the two paths.
type Mode string

// Modes.
const (
	ModeLegacy Mode = "legacy" // 100 % direct
	ModeDual   Mode = "dual"   // MeshWeight % mesh, the rest direct
	ModeMesh   Mode = "mesh"   // 100 % mesh
)

// ErrInvalidConfig is wrapped by every validation error.
var ErrInvalidConfig = errors.New("router: invalid config")

// Service configures one service, or the default for all.
type Service struct {
	Mode Mode `yaml:"mode" json:"mode"`
	// MeshWeight is the percentage (0-100) of calls that take the mesh path
	// in dual mode. Ignored in the other modes.
	MeshWeight int `yaml:"meshWeight" json:"meshWeight"`
	// Idempotent methods may be retried on the direct path after any mesh
	// failure, not only after failures that prove the call was not sent.
	// "*" makes every method idempotent.
	Idempotent []string `yaml:"idempotent" json:"idempotent"`
}

// Config is the whole routing configuration.
type Config struct {
	// Default applies to services without an entry in Services.
	Default Service `yaml:"default" json:"default"`
	// Services by Dubbo interface name.
	Services map[string]Service `yaml:"services" json:"services"`
	// Breaker is the circuit breaker of each service's mesh path; the
	// control plane derives its outlier detection from the same type.
	Breaker policy.Breaker `yaml:"breaker" json:"breaker"`
}

// Validate reports the first problem, in words a user can act on.
func (c Config) Validate() error {
	if err := c.Default.validate("default"); err != nil {
		return err
	}
	for name, s := range c.Services {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("%w: services: empty service name", ErrInvalidConfig)
		}
		if err := s.validate("services[" + name + "]"); err != nil {
			return err
		}
	}
	if err := c.Breaker.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (s Service) validate(where string) error {
	switch s.Mode {
	case ModeLegacy, ModeDual, ModeMesh:
	case "":
		return fmt.Errorf("%w: %s.mode is empty: want legacy, dual or mesh", ErrInvalidConfig, where)
	default:
		return fmt.Errorf("%w: %s.mode %q: want legacy, dual or mesh", ErrInvalidConfig, where, s.Mode)
	}
	if s.MeshWeight < 0 || s.MeshWeight > 100 {
		return fmt.Errorf("%w: %s.meshWeight %d: want a percentage from 0 to 100", ErrInvalidConfig, where, s.MeshWeight)
	}
	if slices.Contains(s.Idempotent, "") {
		return fmt.Errorf("%w: %s.idempotent: empty method name", ErrInvalidConfig, where)
	}
	return nil
}

// meshPercent is the share of calls the mesh path gets.
func (s Service) meshPercent() int {
	switch s.Mode {
	case ModeMesh:
		return 100
	case ModeDual:
		return s.MeshWeight
	default:
		return 0
	}
}

func (s Service) idempotent(method string) bool {
	for _, m := range s.Idempotent {
		if m == "*" || m == method {
			return true
		}
	}
	return false
}
