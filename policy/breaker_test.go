package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/policy"
)

func TestWithDefaults(t *testing.T) {
	want := policy.Breaker{Window: 10 * time.Second, FailureRatio: 0.5, MinRequests: 20, ConsecutiveFailures: 10, Cooldown: 5 * time.Second, Probes: 3}
	if diff := cmp.Diff(want, policy.Breaker{}.WithDefaults()); diff != "" {
		t.Errorf("zero value (-want +got):\n%s", diff)
	}
	set := policy.Breaker{Window: time.Second, FailureRatio: 0.2, MinRequests: 1, ConsecutiveFailures: 2, Cooldown: time.Minute, Probes: 7}
	if diff := cmp.Diff(set, set.WithDefaults()); diff != "" {
		t.Errorf("set fields changed (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		b    policy.Breaker
		want string // "" = valid
	}{
		{policy.Breaker{}, ""},
		{policy.Breaker{FailureRatio: 1}, ""},
		{policy.Breaker{Window: -time.Second}, "window and cooldown"},
		{policy.Breaker{Cooldown: -time.Second}, "window and cooldown"},
		{policy.Breaker{FailureRatio: 1.5}, "breaker.failureRatio 1.5"},
		{policy.Breaker{FailureRatio: -0.1}, "breaker.failureRatio -0.1"},
		{policy.Breaker{MinRequests: -1}, "must not be negative"},
		{policy.Breaker{Probes: -1}, "must not be negative"},
		{policy.Breaker{ConsecutiveFailures: -1}, "must not be negative"},
	} {
		err := tt.b.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%+v: %v, want valid", tt.b, err)
			}
			continue
		}
		if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want ErrInvalid mentioning %q", tt.b, err, tt.want)
		}
	}
}

func TestOutlier(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    policy.Breaker
		want policy.Outlier
		ok   bool
	}{
		{"defaults", policy.Breaker{}, policy.Outlier{
			ConsecutiveFailures: 10, FailurePercentage: 50, RequestVolume: 20,
			Interval: time.Second, BaseEjectionTime: 5 * time.Second, MaxEjectionPercent: 50,
		}, true},
		{"set", policy.Breaker{Window: 30 * time.Second, FailureRatio: 0.25, MinRequests: 4, ConsecutiveFailures: 3, Cooldown: time.Minute}, policy.Outlier{
			ConsecutiveFailures: 3, FailurePercentage: 25, RequestVolume: 4,
			Interval: 3 * time.Second, BaseEjectionTime: time.Minute, MaxEjectionPercent: 50,
		}, true},
		{"short window: interval floor", policy.Breaker{Window: 200 * time.Millisecond}, policy.Outlier{
			ConsecutiveFailures: 10, FailurePercentage: 50, RequestVolume: 20,
			Interval: 100 * time.Millisecond, BaseEjectionTime: 5 * time.Second, MaxEjectionPercent: 50,
		}, true},
		{"disabled", policy.Breaker{Disabled: true, ConsecutiveFailures: 3}, policy.Outlier{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.b.Outlier()
			if ok != tt.ok {
				t.Errorf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
