package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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

// Breaker configures the per-service circuit breaker of the mesh path.
type Breaker struct {
	// Window is the sliding window failures are counted over. Default 10s.
	Window time.Duration `yaml:"window" json:"window"`
	// FailureRatio (0-1] of mesh calls that must fail in the window to open
	// the breaker. Default 0.5.
	FailureRatio float64 `yaml:"failureRatio" json:"failureRatio"`
	// MinRequests in the window before the ratio counts. Default 20.
	MinRequests int `yaml:"minRequests" json:"minRequests"`
	// ConsecutiveFailures of the mesh path open the breaker at once,
	// whatever the ratio (a sidecar that dies after a long healthy window
	// is taken out in milliseconds, not after the window turns over).
	// Default 10; it is also Envoy's outlier detection consecutive_5xx.
	ConsecutiveFailures int `yaml:"consecutiveFailures" json:"consecutiveFailures"`
	// Cooldown the breaker stays open before probing. Default 5s.
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"`
	// Probes is how many calls may probe the mesh path while half-open;
	// that many successes close the breaker. Default 3.
	Probes int `yaml:"probes" json:"probes"`
	// Disabled turns the breaker off.
	Disabled bool `yaml:"disabled" json:"disabled"`
}

// Config is the whole routing configuration.
type Config struct {
	// Default applies to services without an entry in Services.
	Default Service `yaml:"default" json:"default"`
	// Services by Dubbo interface name.
	Services map[string]Service `yaml:"services" json:"services"`
	Breaker  Breaker            `yaml:"breaker" json:"breaker"`
}

// Defaults of the breaker.
const (
	DefaultWindow       = 10 * time.Second
	DefaultFailureRatio = 0.5
	DefaultMinRequests  = 20
	DefaultConsecutive  = 10
	DefaultCooldown     = 5 * time.Second
	DefaultProbes       = 3
)

// WithDefaults returns b with every zero field set to its default. dubbomesh
// derives Envoy's outlier detection from the same values.
func (b Breaker) WithDefaults() Breaker {
	if b.Window == 0 {
		b.Window = DefaultWindow
	}
	if b.FailureRatio == 0 {
		b.FailureRatio = DefaultFailureRatio
	}
	if b.MinRequests == 0 {
		b.MinRequests = DefaultMinRequests
	}
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = DefaultConsecutive
	}
	if b.Cooldown == 0 {
		b.Cooldown = DefaultCooldown
	}
	if b.Probes == 0 {
		b.Probes = DefaultProbes
	}
	return b
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
	b := c.Breaker
	switch {
	case b.Window < 0 || b.Cooldown < 0:
		return fmt.Errorf("%w: breaker: window and cooldown must not be negative", ErrInvalidConfig)
	case b.FailureRatio < 0 || b.FailureRatio > 1:
		return fmt.Errorf("%w: breaker.failureRatio %v: want a fraction in (0, 1]", ErrInvalidConfig, b.FailureRatio)
	case b.MinRequests < 0 || b.Probes < 0 || b.ConsecutiveFailures < 0:
		return fmt.Errorf("%w: breaker: minRequests, consecutiveFailures and probes must not be negative", ErrInvalidConfig)
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
