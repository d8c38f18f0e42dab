package policy_test

import (
	"fmt"
	"time"

	"github.com/dubbomesh/dubbomesh/policy"
)

// The same breaker block drives the app's circuit breaker and the control
// plane's outlier detection.
func ExampleBreaker_Outlier() {
	b := policy.Breaker{ConsecutiveFailures: 5, Cooldown: 30 * time.Second}
	if err := b.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	o, ok := b.Outlier()
	fmt.Println(ok, o.ConsecutiveFailures, o.FailurePercentage, o.RequestVolume, o.Interval, o.BaseEjectionTime)
	// Output: true 5 50 20 1s 30s
}

func ExampleBreaker_Validate() {
	err := policy.Breaker{FailureRatio: 2}.Validate()
	fmt.Println(err)
	// Output: policy: invalid: breaker.failureRatio 2: want a fraction in (0, 1]
}
