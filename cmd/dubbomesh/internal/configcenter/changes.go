package configcenter

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dubbomesh/dubbomesh/router"
)

// Changes lists, in words, what differs between two routing documents:
// "default: dual 70 → mesh", "services[a]: (none) → mesh",
// "breaker changed", sorted by key. Idempotent methods count too.
func Changes(old, cfg router.Config) []string {
	var out []string
	if d := serviceChange(old.Default, cfg.Default); d != "" {
		out = append(out, "default: "+d)
	}
	names := map[string]bool{}
	for n := range old.Services {
		names[n] = true
	}
	for n := range cfg.Services {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		o, had := old.Services[n]
		s, has := cfg.Services[n]
		switch {
		case !had:
			out = append(out, fmt.Sprintf("services[%s]: (default) → %s", n, Describe(s)))
		case !has:
			out = append(out, fmt.Sprintf("services[%s]: %s → (default)", n, Describe(o)))
		default:
			if d := serviceChange(o, s); d != "" {
				out = append(out, fmt.Sprintf("services[%s]: %s", n, d))
			}
		}
	}
	if old.Breaker != cfg.Breaker {
		out = append(out, fmt.Sprintf("breaker: %+v → %+v", old.Breaker, cfg.Breaker))
	}
	return out
}

func serviceChange(o, s router.Service) string {
	if Describe(o) == Describe(s) && slices.Equal(o.Idempotent, s.Idempotent) {
		return ""
	}
	d := Describe(o) + " → " + Describe(s)
	if !slices.Equal(o.Idempotent, s.Idempotent) {
		d += fmt.Sprintf(" (idempotent %v → %v)", o.Idempotent, s.Idempotent)
	}
	return d
}

// Describe is a service's routing in short: "legacy", "dual 70", "mesh".
func Describe(s router.Service) string {
	switch s.Mode {
	case "":
		return "(none)"
	case router.ModeDual:
		return fmt.Sprintf("dual %d", s.MeshWeight)
	default:
		return string(s.Mode)
	}
}

// Diff is a unified-style line diff of two texts ("-" old, "+" new, " "
// both), empty when they are equal.
func Diff(oldText, newText string) string {
	if oldText == newText {
		return ""
	}
	a, b := lines(oldText), lines(newText)
	// Longest common subsequence, by dynamic programming: documents are
	// small.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			sb.WriteString("  " + a[i] + "\n")
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			sb.WriteString("+ " + b[j] + "\n")
			j++
		default:
			sb.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return sb.String()
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
