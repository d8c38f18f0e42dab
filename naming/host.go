package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Default host templates. Placeholders are replaced by the sanitized name.
const (
	DefaultInterfaceTemplate   = "{interface}.dubbo"
	DefaultApplicationTemplate = "{application}.dubbo"
)

// ErrInvalidTemplate is returned for a host template that cannot produce a
// DNS name.
var ErrInvalidTemplate = errors.New("naming: invalid host template")

// Hosts turns Dubbo interface and application names into mesh host names.
// The zero value uses the default templates. It is the `naming:` block of
// both dubbomesh's configuration and the adapter's dubbo.mesh section, so
// the control plane and the apps name hosts alike.
type Hosts struct {
	InterfaceTemplate   string `yaml:"interfaceTemplate"`   // must contain {interface}
	ApplicationTemplate string `yaml:"applicationTemplate"` // must contain {application}
}

// Validate reports a template a user has to fix.
func (h Hosts) Validate() error {
	if t := h.InterfaceTemplate; t != "" && !strings.Contains(t, "{interface}") {
		return fmt.Errorf("%w: interface template %q must contain {interface}", ErrInvalidTemplate, t)
	}
	if t := h.ApplicationTemplate; t != "" && !strings.Contains(t, "{application}") {
		return fmt.Errorf("%w: application template %q must contain {application}", ErrInvalidTemplate, t)
	}
	for _, t := range []string{h.InterfaceTemplate, h.ApplicationTemplate} {
		if strings.Contains(t, ":") || strings.Contains(t, "/") {
			return fmt.Errorf("%w: template %q must not contain ':' or '/'", ErrInvalidTemplate, t)
		}
	}
	return nil
}

// Interface returns the mesh host of a Dubbo interface, e.g.
// "org.apache.dubbo.samples.GreeterService" → "org.apache.dubbo.samples.greeterservice.dubbo".
func (h Hosts) Interface(iface string) string {
	t := h.InterfaceTemplate
	if t == "" {
		t = DefaultInterfaceTemplate
	}
	return DNSName(strings.ReplaceAll(t, "{interface}", iface))
}

// Application returns the mesh host of a Dubbo application.
func (h Hosts) Application(app string) string {
	t := h.ApplicationTemplate
	if t == "" {
		t = DefaultApplicationTemplate
	}
	return DNSName(strings.ReplaceAll(t, "{application}", app))
}

// DNSName makes s a valid lower-case DNS name: characters other than
// [a-z0-9-.] become '-', empty labels are dropped, labels start and end
// alphanumeric, a label longer than 63 characters is truncated and suffixed
// with a short hash, and the whole name is at most 253 characters. Distinct
// inputs that sanitize to the same name are possible but need unusual
// characters; names made of Java identifiers and dots map one to one after
// lower-casing.
func DNSName(s string) string {
	parts := strings.Split(strings.ToLower(s), ".")
	out := parts[:0]
	for _, p := range parts {
		if p = dnsLabel(p); p != "" {
			out = append(out, p)
		}
	}
	name := strings.Join(out, ".")
	if len(name) > 253 {
		name = strings.TrimRight(name[:253-9], ".-") + "-" + shortHash(s)
	}
	if name == "" {
		return "x-" + shortHash(s)
	}
	return name
}

func dnsLabel(p string) string {
	b := []byte(p)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	l := strings.Trim(string(b), "-")
	if len(l) > 63 {
		l = strings.TrimRight(l[:63-9], "-") + "-" + shortHash(p)
	}
	return l
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
