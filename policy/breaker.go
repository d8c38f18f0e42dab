package policy

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("policy: invalid")

// Breaker configures the per-service circuit breaker of the mesh path and,
// derived from it, the outlier detection of each service's clusters. The
// zero value means every default. It is comparable, so it can key a map.
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
	// Default 10; it is also the outlier detection's consecutive 5xx.
	ConsecutiveFailures int `yaml:"consecutiveFailures" json:"consecutiveFailures"`
	// Cooldown the breaker stays open before probing. Default 5s.
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"`
	// Probes is how many calls may probe the mesh path while half-open;
	// that many successes close the breaker. Default 3.
	Probes int `yaml:"probes" json:"probes"`
	// Disabled turns the breaker (and the outlier detection) off.
	Disabled bool `yaml:"disabled" json:"disabled"`
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

// WithDefaults returns b with every zero field set to its default.
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

// Validate reports the first problem, in words a user can act on, naming
// the keys of the `breaker:` block.
func (b Breaker) Validate() error {
	switch {
	case b.Window < 0 || b.Cooldown < 0:
		return fmt.Errorf("%w: breaker: window and cooldown must not be negative", ErrInvalid)
	case b.FailureRatio < 0 || b.FailureRatio > 1:
		return fmt.Errorf("%w: breaker.failureRatio %v: want a fraction in (0, 1]", ErrInvalid, b.FailureRatio)
	case b.MinRequests < 0 || b.Probes < 0 || b.ConsecutiveFailures < 0:
		return fmt.Errorf("%w: breaker: minRequests, consecutiveFailures and probes must not be negative", ErrInvalid)
	}
	return nil
}

// Outlier is the outlier detection a control plane derives from a Breaker:
// what a sidecar (Envoy, an Istio DestinationRule) or grpc-go enforces per
// provider so that it ejects a failing provider on the same terms as the
// apps' breaker.
type Outlier struct {
	// ConsecutiveFailures: consecutive 5xx and gateway failures that eject
	// a provider (the breaker's ConsecutiveFailures).
	ConsecutiveFailures uint32
	// FailurePercentage of requests over Interval that ejects a provider
	// with at least RequestVolume requests (the breaker's FailureRatio
	// and MinRequests).
	FailurePercentage uint32
	RequestVolume     uint32
	// Interval between ejection analyses: a tenth of the breaker's
	// Window, at least 100ms.
	Interval time.Duration
	// BaseEjectionTime is the breaker's Cooldown.
	BaseEjectionTime time.Duration
	// MaxEjectionPercent of a cluster's providers that may be ejected at
	// once: 50, so an outlier detection never empties a service.
	MaxEjectionPercent uint32
}

// MinOutlierInterval bounds Outlier.Interval from below.
const MinOutlierInterval = 100 * time.Millisecond

// Outlier returns the outlier detection matching b (defaults applied), and
// false when b is disabled.
func (b Breaker) Outlier() (Outlier, bool) {
	if b.Disabled {
		return Outlier{}, false
	}
	b = b.WithDefaults()
	return Outlier{
		ConsecutiveFailures: clampUint32(b.ConsecutiveFailures),
		FailurePercentage:   uint32(b.FailureRatio * 100),
		RequestVolume:       clampUint32(b.MinRequests),
		Interval:            max(b.Window/10, MinOutlierInterval),
		BaseEjectionTime:    b.Cooldown,
		MaxEjectionPercent:  50,
	}, true
}

func clampUint32(n int) uint32 {
	switch {
	case n < 0:
		return 0
	case uint64(n) > uint64(^uint32(0)):
		return ^uint32(0)
	default:
		return uint32(n)
	}
}
