package endpoint

import (
	"hash/maphash"
	"maps"
	"math/bits"
	"strings"
	"unique"
)

// Intern returns a copy of s shared by every equal string interned while
// one is in use (see package unique). Registries repeat the same
// application, version, group, protocol, host and parameter names across
// thousands of endpoints; interned, each is stored once. Interning also
// detaches s from a larger string it may be a substring of (a parsed URL).
func Intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// Param returns a parameter with an interned name and value, for a
// parameter map kept per endpoint. Values that differ on (almost) every
// provider, timestamp and pid, are copied instead: interning them would
// cost more than it saves. Either way the strings no longer refer to the
// text they were parsed from.
func Param(key, value string) (string, string) {
	if key == "timestamp" || key == "pid" {
		return Intern(key), strings.Clone(value)
	}
	return Intern(key), Intern(value)
}

// ParamsSet shares parameter maps by content: providers of one service
// often register the same parameters, and a map per endpoint costs more
// than the endpoint itself. Maps given to Share must never be modified
// afterwards (registry.Endpoint.Params never are). The zero value is ready
// to use; a ParamsSet is not safe for concurrent use.
type ParamsSet struct {
	seed   maphash.Seed
	byHash map[uint64][]map[string]string
}

// Share returns a map equal to params that was given to Share before, or
// params itself (remembered for later calls).
func (s *ParamsSet) Share(params map[string]string) map[string]string {
	if params == nil {
		return nil
	}
	if s.byHash == nil {
		s.seed = maphash.MakeSeed()
		s.byHash = map[uint64][]map[string]string{}
	}
	h := s.hash(params)
	for _, m := range s.byHash[h] {
		if maps.Equal(m, params) {
			return m
		}
	}
	s.byHash[h] = append(s.byHash[h], params)
	return params
}

// hash combines the entries in an order-independent way.
func (s *ParamsSet) hash(params map[string]string) uint64 {
	sum := uint64(len(params))
	for k, v := range params {
		sum += maphash.String(s.seed, k) ^ bits.RotateLeft64(maphash.String(s.seed, v), 31)
	}
	return sum
}
