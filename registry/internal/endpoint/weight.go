package endpoint

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dubbomesh/dubbomesh/registry"
)

// MaxWeight bounds endpoint weights, whatever the registry: Nacos' maximum
// weight 10000 × 100, and small enough that a locality of thousands of
// endpoints cannot sum past uint32 (which grpc-go rejects).
const MaxWeight = 1_000_000

// ParamError says a provider parameter could not be parsed: the endpoint is
// kept with the parameter's default. Sources log and count it.
type ParamError struct {
	Param, Value string
	Err          error
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("parameter %s=%q ignored: %v", e.Param, e.Value, e.Err)
}

func (e *ParamError) Unwrap() error { return e.Err }

// ParseWeight parses a Dubbo "weight" parameter, the same for every
// registry: a number (decimals are rounded) from 1 up; larger than
// MaxWeight is MaxWeight. Missing, or ≤ 0 (dubbo-go writes weight=0 on
// some URLs), means not declared: 0 and no error. Anything that is not a
// finite number is not declared either, and a *ParamError.
func ParseWeight(s string) (uint32, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		err = nil // beyond float64 (±Inf) or below it (0): a number all the same
	case err == nil && (math.IsNaN(f) || math.IsInf(f, 0)):
		err = errors.New("not a finite number") // "NaN", "Inf"
	}
	if err != nil {
		return 0, &ParamError{Param: ParamWeight, Value: s, Err: err}
	}
	switch f = math.Round(f); {
	case f < 1:
		return 0, nil
	case f > MaxWeight:
		return MaxWeight, nil
	default:
		return uint32(f), nil
	}
}

// RegistryWeight is the weight a registry keeps for an instance besides
// Dubbo's "weight" parameter: Nacos' float weight, where 1.0 is Dubbo's
// default 100. The zero value means the registry has none (ZooKeeper).
type RegistryWeight struct {
	Value float64
	Set   bool
}

// Weight returns the endpoint weight of a provider whose parsed Dubbo
// weight is dubbo (0: not declared, see ParseWeight) and whose registry
// weight is reg.
//
// Without a registry weight it is the Dubbo weight, or the default 100.
// With one (Nacos): 0 drains; without a Dubbo weight it is scaled by 100
// (1.0 → 100, 0.5 → 50); with a Dubbo weight d it is taken on Dubbo's
// scale, because dubbo-go copies d into Nacos for interface-level
// instances, except that exactly 1.0 (what dubbo-go registers at
// application level, whatever d is) yields d. The result is 1 to
// MaxWeight, or 0 for a drain.
func Weight(reg RegistryWeight, dubbo uint32) uint32 {
	switch {
	case !reg.Set && dubbo == 0:
		return registry.DefaultWeight
	case !reg.Set:
		return dubbo
	case reg.Value == 0:
		return 0 // drain
	case dubbo != 0 && reg.Value == 1:
		return dubbo
	}
	w := math.Round(reg.Value * 100) // Nacos' scale: 1.0 is Dubbo's 100
	if dubbo != 0 {
		w = math.Round(reg.Value)
	}
	switch {
	case w < 1:
		return 1
	case w > MaxWeight:
		return MaxWeight
	default:
		return uint32(w)
	}
}

// ApplyWeight sets ep.Weight from its parameters' Dubbo weight and the
// registry weight reg; a *ParamError says the weight parameter was
// ignored.
func ApplyWeight(ep *registry.Endpoint, params map[string]string, reg RegistryWeight) error {
	d, err := ParseWeight(params[ParamWeight])
	ep.Weight = Weight(reg, d)
	return err
}
