package endpoint

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/dubbomesh/dubbomesh/registry"
)

// RegistryWeight is the weight a registry keeps for an instance besides
// Dubbo's "weight" parameter: Nacos' float weight, where 1.0 is Dubbo's
// default 100. The zero value means the registry has none (ZooKeeper).
type RegistryWeight struct {
	Value float64
	Set   bool
}

// MaxRegistryWeight bounds endpoint weights derived from a registry weight
// (Nacos' maximum 10000 × 100).
const MaxRegistryWeight = 1_000_000

// Weight returns the endpoint weight of a provider whose Dubbo "weight"
// parameter is dubbo and whose registry weight is reg.
//
// Without a registry weight, the Dubbo rules apply (see DubboWeight). With
// one (Nacos): 0 drains; without a Dubbo weight it is scaled by 100 (1.0 →
// 100, 0.5 → 50); with a positive Dubbo weight d it is taken on Dubbo's
// scale, because dubbo-go copies d into Nacos for interface-level
// instances, except that exactly 1.0 (what dubbo-go registers at
// application level, whatever d is) yields d. The result is 1 to
// MaxRegistryWeight.
func Weight(reg RegistryWeight, dubbo string) uint32 {
	if !reg.Set {
		return DubboWeight(dubbo)
	}
	if reg.Value == 0 {
		return 0 // drain
	}
	w := math.Round(reg.Value * 100)
	if d, err := strconv.ParseFloat(strings.TrimSpace(dubbo), 64); err == nil && d >= 1 {
		w = math.Round(reg.Value)
		if reg.Value == 1 {
			w = math.Round(d)
		}
	}
	switch {
	case w < 1:
		return 1
	case w > MaxRegistryWeight:
		return MaxRegistryWeight
	default:
		return uint32(w)
	}
}

// DubboWeight applies the Dubbo weight rules to a "weight" parameter:
// missing, unparsable or ≤ 0 (dubbo-go writes weight=0 on some URLs) means
// the default weight; larger values are clamped to uint32.
func DubboWeight(s string) uint32 {
	if s == "" {
		return registry.DefaultWeight
	}
	s = strings.TrimSpace(s)
	if w, err := strconv.ParseInt(s, 10, 64); err == nil {
		return clampWeight(float64(w))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return registry.DefaultWeight
	}
	return clampWeight(f)
}

func clampWeight(f float64) uint32 {
	switch {
	case math.IsNaN(f) || f < 1:
		return registry.DefaultWeight
	case f >= math.MaxUint32:
		return math.MaxUint32
	default:
		return uint32(f)
	}
}
