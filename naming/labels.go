package naming

import (
	"maps"
	"strings"
)

// Canonical workload label keys.
const (
	LabelApp      = "app"
	LabelVersion  = "version"
	LabelGroup    = "dubbo.apache.org/group"
	LabelTag      = "dubbo.apache.org/tag"
	LabelProtocol = "dubbo.apache.org/protocol"
	LabelRegistry = "dubbo.apache.org/registry"
)

// Volatile Dubbo parameters change on every provider restart; they never
// become labels, so a restart does not churn Istio.
var volatile = map[string]bool{
	"timestamp": true, "pid": true, "methods": true, "dubbo": true,
	"release": true, "anyhost": true, "deprecated": true, "generic": true,
	"side": true, "interface": true, "metadata-type": true, "REGISTRY_CLUSTER": true,
}

// IsVolatile reports whether a Dubbo parameter must never become a label.
func IsVolatile(param string) bool { return volatile[param] }

// Workload describes the Dubbo facts that become labels.
type Workload struct {
	Application string
	Version     string
	Group       string
	Tag         string
	Protocol    string
	Registries  []string
	Params      map[string]string
}

// Labeler maps Dubbo facts to workload labels. The zero value emits the
// canonical labels only. It is the `labels:` block of dubbomesh's
// configuration.
type Labeler struct {
	// FromParams copies Dubbo parameters to labels: parameter name → label
	// key. Volatile parameters are ignored.
	FromParams map[string]string `yaml:"fromParams"`
	// Static labels are added to every workload; canonical labels win.
	Static map[string]string `yaml:"static"`
}

// Labels returns the sanitized labels of w. Empty values are omitted.
func (l Labeler) Labels(w Workload) map[string]string {
	out := make(map[string]string, 6+len(l.FromParams)+len(l.Static))
	for k, v := range l.Static {
		out[k] = LabelValue(v)
	}
	for param, key := range l.FromParams {
		if v, ok := w.Params[param]; ok && !IsVolatile(param) {
			out[key] = LabelValue(v)
		}
	}
	set := func(k, v string) {
		if v = LabelValue(v); v != "" {
			out[k] = v
		}
	}
	set(LabelApp, w.Application)
	set(LabelVersion, w.Version)
	set(LabelGroup, w.Group)
	set(LabelTag, w.Tag)
	set(LabelProtocol, w.Protocol)
	set(LabelRegistry, strings.Join(w.Registries, "_"))
	maps.DeleteFunc(out, func(_, v string) bool { return v == "" })
	return out
}

// LabelValue sanitizes v to the Kubernetes label value rules: at most 63
// characters of [A-Za-z0-9._-], beginning and ending alphanumeric. Other
// characters become '_'; a value that is too long is truncated and suffixed
// with a short hash so that distinct long values stay distinct.
func LabelValue(v string) string {
	b := []byte(v)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	s := strings.Trim(string(b), "-_.")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63-9], "-_.") + "-" + shortHash(v)
	}
	return s
}
