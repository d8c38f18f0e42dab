package configurator

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dubbomesh/dubbomesh/registry"
)

// ErrInvalid is wrapped by every error of Parse and ParseURL.
var ErrInvalid = errors.New("configurator: invalid rule")

// Scopes of a YAML rule.
const (
	ScopeService     = "service"
	ScopeApplication = "application"
)

const anyHost = "0.0.0.0"

// Override is one provider-side override: which providers it matches and
// what it changes. The zero value matches every provider and changes
// nothing.
type Override struct {
	// Host and Port are the provider address the override names; "" (or
	// 0.0.0.0) and 0 match any.
	Host string
	Port uint32
	// ProviderAddresses, if not empty, also restricts the providers: each
	// is host, host:port, 0.0.0.0, 0.0.0.0:* or 0.0.0.0:port.
	ProviderAddresses []string
	// Application, if set and not "*", must be the provider's application.
	Application string
	// Group and Version, if set and not "*", must be the provider's (the
	// service key of a service rule, or the parameters of an override URL).
	Group, Version string
	MatchGroup     bool // Group is a condition (service key or URL parameter)
	MatchVersion   bool
	// Disabled, if set, says whether the matching providers are dropped
	// (true) or kept (false, undoing an earlier override).
	Disabled *bool
	// Weight, if set, replaces their weight.
	Weight *uint32
	// Priority orders overrides of the same specificity (Dubbo's priority
	// parameter): the higher applies later and wins.
	Priority int
}

func (o *Override) anyHost() bool { return o.Host == "" || o.Host == anyHost }

// Matches reports whether o applies to ep.
func (o *Override) Matches(ep *registry.Endpoint) bool {
	if !o.anyHost() && o.Host != ep.Host {
		return false
	}
	if o.Port != 0 && o.Port != ep.Port {
		return false
	}
	if len(o.ProviderAddresses) > 0 && !slices.ContainsFunc(o.ProviderAddresses, func(a string) bool {
		return a == ep.Address() || a == ep.Host || a == anyHost || a == anyHost+":*" ||
			a == anyHost+":"+strconv.FormatUint(uint64(ep.Port), 10)
	}) {
		return false
	}
	if o.Application != "" && o.Application != "*" && o.Application != ep.Application {
		return false
	}
	if o.MatchGroup && o.Group != "*" && o.Group != ep.Group {
		return false
	}
	if o.MatchVersion && o.Version != "*" && o.Version != ep.Version {
		return false
	}
	return true
}

// Rule is one YAML config rule (the document of one key) as overrides.
type Rule struct {
	Scope     string // ScopeService or ScopeApplication
	Key       string // service key or application
	Overrides []Override
}

// yamlRule is Dubbo's ConfiguratorConfig.
type yamlRule struct {
	ConfigVersion string       `yaml:"configVersion"`
	Scope         string       `yaml:"scope"`
	Key           string       `yaml:"key"`
	Enabled       *bool        `yaml:"enabled"`
	Configs       []yamlConfig `yaml:"configs"`
}

// yamlConfig is Dubbo's ConfigItem.
type yamlConfig struct {
	Enabled           *bool             `yaml:"enabled"`
	Addresses         []string          `yaml:"addresses"`
	ProviderAddresses []string          `yaml:"providerAddresses"`
	Services          []string          `yaml:"services"`
	Applications      []string          `yaml:"applications"`
	Parameters        map[string]string `yaml:"parameters"`
	Side              string            `yaml:"side"`
	Match             yaml.Node         `yaml:"match"`
}

// Parse reads the YAML config rule stored under key ("{key}.configurators"
// without the suffix). Consumer-side items and items switched off
// (enabled: false) are dropped; a rule switched off has no overrides. An
// item it cannot apply faithfully (a match condition) is an error, so that
// a rule is never applied wider than written.
func Parse(key string, data []byte) (Rule, error) {
	var y yamlRule
	if err := yaml.Unmarshal(data, &y); err != nil {
		return Rule{}, fmt.Errorf("%w: %s: %v", ErrInvalid, key, err)
	}
	switch y.ConfigVersion {
	case "v2.7", "v3.0", "v3.1":
	default:
		return Rule{}, fmt.Errorf("%w: %s: configVersion %q (want v2.7 or v3.x)", ErrInvalid, key, y.ConfigVersion)
	}
	r := Rule{Scope: y.Scope, Key: y.Key}
	if r.Key == "" {
		r.Key = key
	}
	if r.Key != key {
		return Rule{}, fmt.Errorf("%w: %s: key %q is not the key it is stored under", ErrInvalid, key, y.Key)
	}
	var group, version string
	switch y.Scope {
	case ScopeService:
		var iface string
		group, iface, version = SplitServiceKey(key)
		if iface == "" {
			return Rule{}, fmt.Errorf("%w: %s: no interface in the service key", ErrInvalid, key)
		}
	case ScopeApplication:
	default:
		return Rule{}, fmt.Errorf("%w: %s: scope %q (want service or application)", ErrInvalid, key, y.Scope)
	}
	if y.Enabled != nil && !*y.Enabled {
		return r, nil
	}
	for i, c := range y.Configs {
		if c.Enabled != nil && !*c.Enabled {
			continue
		}
		if c.Side != "" && c.Side != "provider" {
			continue // consumer-side: not the providers' state
		}
		if !c.Match.IsZero() {
			return Rule{}, fmt.Errorf("%w: %s: configs[%d]: match conditions are not supported", ErrInvalid, key, i)
		}
		base, err := overrideParams(c.Parameters)
		if err != nil {
			return Rule{}, fmt.Errorf("%w: %s: configs[%d]: %v", ErrInvalid, key, i, err)
		}
		if y.Scope == ScopeService {
			base.Group, base.Version, base.MatchGroup, base.MatchVersion = group, version, true, true
		} else {
			if len(c.Services) > 0 && !slices.Contains(c.Services, "*") {
				return Rule{}, fmt.Errorf("%w: %s: configs[%d]: services of an application rule are not supported", ErrInvalid, key, i)
			}
			base.Application = key
		}
		base.ProviderAddresses = c.ProviderAddresses
		addrs := c.Addresses
		if len(addrs) == 0 {
			addrs = []string{anyHost}
		}
		apps := c.Applications
		if y.Scope == ScopeApplication || len(apps) == 0 {
			apps = []string{base.Application}
		}
		for _, a := range addrs {
			host, port, err := splitAddress(a)
			if err != nil {
				return Rule{}, fmt.Errorf("%w: %s: configs[%d]: address %q: %v", ErrInvalid, key, i, a, err)
			}
			for _, app := range apps {
				o := base
				o.Host, o.Port, o.Application = host, port, app
				r.Overrides = append(r.Overrides, o)
			}
		}
	}
	return r, nil
}

// overrideParams reads the parameters that matter: disabled, weight,
// priority.
func overrideParams(p map[string]string) (Override, error) {
	var o Override
	if v, ok := p["disabled"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("disabled=%q is not a boolean", v)
		}
		o.Disabled = &b
	}
	if v, ok := p["weight"]; ok {
		w, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil || w > 1_000_000 {
			return o, fmt.Errorf("weight=%q is not a weight (0-1000000)", v)
		}
		w32 := uint32(w)
		o.Weight = &w32
	}
	if v, ok := p["priority"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return o, fmt.Errorf("priority=%q is not an integer", v)
		}
		o.Priority = n
	}
	return o, nil
}

// splitAddress splits host[:port]; port 0 (or none) matches any.
func splitAddress(a string) (string, uint32, error) {
	a = strings.TrimSpace(a)
	if a == "" {
		return "", 0, errors.New("empty")
	}
	host, ps, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Count(a, ":") > 1 && !strings.HasPrefix(a, "[") || !strings.Contains(a, ":") {
			return a, 0, nil // a bare host (IPv6 without a port, or IPv4/name)
		}
		return "", 0, err
	}
	if ps == "*" {
		return host, 0, nil
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q", ps)
	}
	return host, uint32(port), nil
}

// SplitServiceKey splits a Dubbo service key [group/]interface[:version].
func SplitServiceKey(key string) (group, iface, version string) {
	iface = key
	if i := strings.IndexByte(iface, '/'); i >= 0 {
		group, iface = iface[:i], iface[i+1:]
	}
	if i := strings.LastIndexByte(iface, ':'); i >= 0 {
		iface, version = iface[:i], iface[i+1:]
	}
	return group, iface, version
}

// ParseURL reads a legacy override URL (a child of ZooKeeper's
// /dubbo/{interface}/configurators, URL-encoded or not) of interface iface.
// ok is false for an override that changes nothing the mesh uses (another
// category, a consumer-side or switched-off override, no disabled or weight
// parameter).
func ParseURL(iface, raw string) (o Override, ok bool, err error) {
	s := raw
	if dec, derr := url.PathUnescape(raw); derr == nil {
		s = dec
	}
	u, err := url.Parse(s)
	if err != nil {
		return o, false, fmt.Errorf("%w: %q: %v", ErrInvalid, raw, err)
	}
	switch u.Scheme {
	case "override":
	case "empty":
		return o, false, nil // "no overrides"
	default:
		return o, false, fmt.Errorf("%w: %q: scheme %q (want override)", ErrInvalid, raw, u.Scheme)
	}
	q := u.Query()
	if p := strings.TrimPrefix(u.Path, "/"); p != "" && p != "*" && p != iface {
		return o, false, fmt.Errorf("%w: %q: interface %q under %s", ErrInvalid, raw, p, iface)
	}
	if c := q.Get("category"); c != "" && c != "configurators" && c != "dynamicconfigurators" {
		return o, false, nil
	}
	if s := q.Get("side"); s != "" && s != "provider" {
		return o, false, nil
	}
	if e := q.Get("enabled"); e != "" {
		if b, perr := strconv.ParseBool(e); perr == nil && !b {
			return o, false, nil
		}
	}
	params := map[string]string{}
	for _, k := range []string{"disabled", "weight", "priority"} {
		if q.Has(k) {
			params[k] = q.Get(k)
		}
	}
	if _, d := params["disabled"]; !d {
		if _, w := params["weight"]; !w {
			return o, false, nil
		}
	}
	if o, err = overrideParams(params); err != nil {
		return o, false, fmt.Errorf("%w: %q: %v", ErrInvalid, raw, err)
	}
	o.Host = u.Hostname()
	if ps := u.Port(); ps != "" {
		p, perr := strconv.ParseUint(ps, 10, 16)
		if perr != nil {
			return Override{}, false, fmt.Errorf("%w: %q: port %q", ErrInvalid, raw, ps)
		}
		o.Port = uint32(p)
	}
	o.Application = q.Get("application")
	o.ProviderAddresses = splitList(q.Get("providerAddresses"))
	if q.Has("group") {
		o.Group, o.MatchGroup = q.Get("group"), true
	}
	if q.Has("version") {
		o.Version, o.MatchVersion = q.Get("version"), true
	}
	return o, true, nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
