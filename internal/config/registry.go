package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Registry is one parsed registry URL: one source.
type Registry struct {
	Kind    string   // "zookeeper" (or "nacos")
	Name    string   // provenance; from ?name=, default kind, or kind-N after the first
	Servers []string // host:port; several addresses are one cluster of that registry
	Root    string   // ZooKeeper root (?root=); default from the source
	// SessionTimeout from ?sessionTimeout= (a Go duration).
	SessionTimeout time.Duration
	// Params holds the remaining query parameters for the source.
	Params url.Values
}

var defaultPorts = map[string]string{"zookeeper": "2181", "nacos": "8848"}

// ParseRegistry parses one registry URL. index is its position in the list,
// used for default names.
func ParseRegistry(raw string, index int) (Registry, error) {
	var r Registry
	bad := func(format string, args ...any) (Registry, error) {
		return r, fmt.Errorf("%w: registries[%d] %q: %s", ErrInvalid, index, raw, fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return bad("want scheme://host:port[,host:port...][?params], e.g. zookeeper://127.0.0.1:2181")
	}
	r.Kind = strings.ToLower(scheme)
	if r.Kind == "zk" {
		r.Kind = "zookeeper"
	}
	port, known := defaultPorts[r.Kind]
	if !known {
		return bad("unsupported registry kind %q (supported: zookeeper)", scheme)
	}
	hosts, query, _ := strings.Cut(rest, "?")
	hosts = strings.TrimSuffix(hosts, "/")
	for h := range strings.SplitSeq(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, port)
		}
		host, p, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return bad("bad address %q", h)
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return bad("bad port in %q", h)
		}
		r.Servers = append(r.Servers, h)
	}
	if len(r.Servers) == 0 {
		return bad("no server address")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad("bad query: %v", err)
	}
	r.Name = params.Get("name")
	params.Del("name")
	if r.Name == "" {
		r.Name = r.Kind
		if index > 0 {
			r.Name = r.Kind + "-" + strconv.Itoa(index)
		}
	}
	r.Root = strings.Trim(params.Get("root"), "/")
	params.Del("root")
	if v := params.Get("sessionTimeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return bad("sessionTimeout %q: want a duration such as 10s", v)
		}
		r.SessionTimeout = d
		params.Del("sessionTimeout")
	}
	r.Params = params
	return r, nil
}
