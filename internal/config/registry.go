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
	Kind    string   // "zookeeper" or "nacos"
	Name    string   // provenance; from ?name=, default kind, or kind-N after the first
	Servers []string // host:port; several addresses are one cluster of that registry
	Root    string   // ZooKeeper root (?root=); default from the source
	// SessionTimeout from ?sessionTimeout= (a Go duration).
	SessionTimeout time.Duration
	// Nacos holds the Nacos parameters (Kind "nacos" only).
	Nacos Nacos
	// Params holds the remaining query parameters for the source.
	Params url.Values
}

// Nacos are the query parameters of a nacos:// registry URL.
type Nacos struct {
	Namespaces []string // ?namespace=a,b (IDs; "public" or empty = public)
	Groups     []string // ?group=G1,G2; default DEFAULT_GROUP
	// Credentials: ?username=&password= and/or ?accessKey=&secretKey=.
	Username, Password   string
	AccessKey, SecretKey string
	// ServiceListInterval from ?serviceListInterval= (a Go duration).
	ServiceListInterval time.Duration
	// ResyncGrace from ?resyncGrace= (a Go duration).
	ResyncGrace time.Duration
	// CacheDir from ?cacheDir=: the Nacos SDK's files.
	CacheDir string
}

// secretParams are query parameters never shown in errors or logs.
var secretParams = []string{"password", "secretKey"}

// Redact returns raw with the values of secret query parameters (and a
// password in user info) replaced by "***", for logs and errors.
func Redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	hosts, query, hasQuery := strings.Cut(rest, "?")
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		user, _, _ := strings.Cut(hosts[:at], ":")
		hosts = user + ":***@" + hosts[at+1:]
	}
	if !hasQuery {
		return scheme + "://" + hosts
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		for _, s := range secretParams {
			if strings.EqualFold(k, s) {
				parts[i] = k + "=***"
			}
		}
	}
	return scheme + "://" + hosts + "?" + strings.Join(parts, "&")
}

var defaultPorts = map[string]string{"zookeeper": "2181", "nacos": "8848"}

// ParseRegistry parses one registry URL. index is its position in the list,
// used for default names.
func ParseRegistry(raw string, index int) (Registry, error) {
	var r Registry
	bad := func(format string, args ...any) (Registry, error) {
		return r, fmt.Errorf("%w: registries[%d] %q: %s", ErrInvalid, index, Redact(raw), fmt.Sprintf(format, args...))
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
		return bad("unsupported registry kind %q (supported: zookeeper, nacos)", scheme)
	}
	hosts, query, _ := strings.Cut(rest, "?")
	hosts = strings.TrimSuffix(hosts, "/")
	if strings.Contains(hosts, "@") {
		return bad("give credentials as query parameters (?username=&password=), not as user info")
	}
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
	if r.Kind == "nacos" {
		if err := parseNacos(&r.Nacos, params); err != nil {
			return bad("%v", err)
		}
	}
	r.Params = params
	return r, nil
}

// parseNacos moves the Nacos parameters from params into n. Unknown
// parameters are errors: a misspelt "namespace" must not silently watch the
// public namespace.
func parseNacos(n *Nacos, params url.Values) error {
	list := func(key string) []string {
		var out []string
		for _, v := range params[key] {
			for item := range strings.SplitSeq(v, ",") {
				if item = strings.TrimSpace(item); item != "" || key == "namespace" {
					out = append(out, item)
				}
			}
		}
		params.Del(key)
		return out
	}
	one := func(key string) string {
		v := params.Get(key)
		params.Del(key)
		return v
	}
	duration := func(key string) (time.Duration, error) {
		v := one(key)
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s %q: want a duration such as 30s", key, v)
		}
		return d, nil
	}
	n.Namespaces = list("namespace")
	n.Groups = list("group")
	n.Username, n.Password = one("username"), one("password")
	n.AccessKey, n.SecretKey = one("accessKey"), one("secretKey")
	n.CacheDir = one("cacheDir")
	var err error
	if n.ServiceListInterval, err = duration("serviceListInterval"); err != nil {
		return err
	}
	if n.ResyncGrace, err = duration("resyncGrace"); err != nil {
		return err
	}
	for k := range params {
		return fmt.Errorf("unknown parameter %q for nacos (known: name, namespace, group, username, password, accessKey, secretKey, serviceListInterval, resyncGrace, cacheDir)", k)
	}
	return nil
}
