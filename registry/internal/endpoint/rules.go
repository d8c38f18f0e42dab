package endpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParsePort parses a port number: 1–65535.
func ParsePort(s string) (uint32, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("bad port %q: want 1-65535", s)
	}
	return uint32(p), nil
}

// CheckPort checks a port a registry stores as a number: 1–65535.
func CheckPort(p uint64) (uint32, error) {
	if p == 0 || p > 65535 {
		return 0, fmt.Errorf("bad port %d: want 1-65535", p)
	}
	return uint32(p), nil
}

// JSONPort parses a port written as a JSON number or string. A missing,
// null or zero port is 0 with no error; any other must be 1–65535.
func JSONPort(raw json.RawMessage) (uint32, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("bad port %s", raw)
		}
		n = json.Number(s)
	}
	if n == "0" {
		return 0, nil
	}
	return ParsePort(n.String())
}

// CheckHost checks a provider's host: not empty, no white space or
// slashes, and an IPv6 literal if it contains a colon.
func CheckHost(h string) error {
	if h == "" {
		return errors.New("missing host")
	}
	if strings.ContainsAny(h, " \t\r\n/") || strings.Contains(h, ":") && net.ParseIP(h) == nil {
		return fmt.Errorf("bad host %q", h)
	}
	return nil
}

// CheckProtocol checks a protocol name (tri, dubbo, grpc, rest, ...): not
// empty, no white space, slashes or colons.
func CheckProtocol(p string) error {
	if p == "" || strings.ContainsAny(p, " \t\r\n/:") {
		return fmt.Errorf("bad or missing protocol %q", p)
	}
	return nil
}

// ProtocolPort is one entry of an instance's dubbo.endpoints.
type ProtocolPort struct {
	Port     uint32
	Protocol string
}

// ParseEndpoints parses dubbo.endpoints, e.g.
// [{"port":20000,"protocol":"tri"}]: every entry needs a valid protocol and
// port (a JSON number or string).
func ParseEndpoints(raw string) ([]ProtocolPort, error) {
	var list []struct {
		Port     json.RawMessage `json:"port"`
		Protocol string          `json:"protocol"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, err
	}
	out := make([]ProtocolPort, 0, len(list))
	for _, e := range list {
		p, err := JSONPort(e.Port)
		if err == nil && p == 0 {
			err = errors.New("missing port")
		}
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", e.Protocol, err)
		}
		if err := CheckProtocol(e.Protocol); err != nil {
			return nil, fmt.Errorf("endpoint port %d: %w", p, err)
		}
		out = append(out, ProtocolPort{Port: p, Protocol: e.Protocol})
	}
	return out, nil
}

// SplitServer parses a registry server address host[:port], defaultPort
// when the port is missing. It explains what a user has to fix.
func SplitServer(s string, defaultPort uint32) (string, uint32, error) {
	switch {
	case s == "":
		return "", 0, errors.New("empty address")
	case strings.Contains(s, "://"):
		return "", 0, fmt.Errorf("%q: give host:port without a scheme, e.g. \"127.0.0.1:%d\"", s, defaultPort)
	case strings.Contains(s, ","):
		return "", 0, fmt.Errorf("%q: list each server as its own entry instead of a comma-separated string", s)
	case strings.ContainsAny(s, " \t\r\n/"):
		return "", 0, fmt.Errorf("%q: an address must not contain spaces or slashes", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if ae, ok := errors.AsType[*net.AddrError](err); ok && ae.Err == "missing port in address" {
			return s, defaultPort, nil
		}
		return "", 0, fmt.Errorf("%q: %w", s, err)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q: missing host", s)
	}
	p, err := ParsePort(port)
	if err != nil {
		return "", 0, fmt.Errorf("%q: port %q must be a number from 1 to 65535", s, port)
	}
	return host, p, nil
}
