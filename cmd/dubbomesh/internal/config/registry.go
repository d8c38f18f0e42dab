package config

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dubbomesh/dubbomesh/registry/nacos"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
)

// Registry is one parsed registry URL: one source, as the Config of its
// watcher.
type Registry struct {
	Kind      string           // "zookeeper" or "nacos"
	ZooKeeper zookeeper.Config // Kind "zookeeper"
	Nacos     nacos.Config     // Kind "nacos"
}

// Name is the source's name (provenance): from ?name=, else the kind, or
// kind-N after the first registry.
func (r Registry) Name() string {
	if r.Kind == "nacos" {
		return r.Nacos.Name
	}
	return r.ZooKeeper.Name
}

// Sources parses every registry URL, once, and checks that their names are
// distinct. Each watcher validates the rest of its Config when built.
func (c Config) Sources() ([]Registry, error) {
	out := make([]Registry, 0, len(c.Registries))
	names := map[string]bool{}
	for i, raw := range c.Registries {
		r, err := ParseRegistry(raw, i)
		if err != nil {
			return nil, err
		}
		if names[r.Name()] {
			return nil, fmt.Errorf("%w: registries: two registries are named %q; give each a distinct ?name=", ErrInvalid, r.Name())
		}
		names[r.Name()] = true
		out = append(out, r)
	}
	return out, nil
}

// plainParams are the query parameters whose values are not secret; Redact
// hides the values of every other one, a misspelt "pasword" included.
var plainParams = []string{"name", "root", "sessionTimeout", "username", "passwordFile", "resyncGrace",
	"namespace", "group", "accessKey", "secretKeyFile", "serviceListInterval", "cacheDir"}

// Redact returns raw with the values of query parameters that may be
// secret (any but plainParams) and a password in user info replaced by
// "***", for logs and errors.
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
		k, _, hasValue := strings.Cut(p, "=")
		if hasValue && !slices.ContainsFunc(plainParams, func(s string) bool { return strings.EqualFold(k, s) }) {
			parts[i] = k + "=***"
		}
	}
	return scheme + "://" + hosts + "?" + strings.Join(parts, "&")
}

var defaultPorts = map[string]string{"zookeeper": "2181", "nacos": "8848"}

// ParseRegistry parses one registry URL: scheme://host[:port][,host[:port]...][?params].
// index is its position in the list, used for default names. Parameters:
// name for both kinds; root, sessionTimeout, username, password
// (digest credentials) and resyncGrace for zookeeper (zk); namespace,
// group, username, password, accessKey, secretKey, serviceListInterval,
// resyncGrace and cacheDir for nacos. passwordFile (and, for nacos,
// secretKeyFile) name a file holding the secret instead, read here, its
// trailing newline trimmed. Unknown parameters are errors: a misspelt
// "namespace" must not silently watch the public namespace.
func ParseRegistry(raw string, index int) (Registry, error) {
	var r Registry
	bad := func(format string, args ...any) (Registry, error) {
		return Registry{}, fmt.Errorf("%w: registries[%d] %q: %s", ErrInvalid, index, Redact(raw), fmt.Sprintf(format, args...))
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
	var servers []string
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
		servers = append(servers, h)
	}
	if len(servers) == 0 {
		return bad("no server address")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad("bad query: %v", err)
	}
	q := paramReader{params: params}
	name := q.one("name")
	if name == "" {
		name = r.Kind
		if index > 0 {
			name = r.Kind + "-" + strconv.Itoa(index)
		}
	}
	switch r.Kind {
	case "zookeeper":
		r.ZooKeeper = zookeeper.Config{
			Name:           name,
			Servers:        servers,
			Root:           strings.Trim(q.one("root"), "/"),
			SessionTimeout: q.duration("sessionTimeout"),
			Username:       q.one("username"),
			Password:       q.secret("password", "passwordFile"),
			ResyncGrace:    q.duration("resyncGrace"),
		}
	case "nacos":
		r.Nacos = nacos.Config{
			Name:                name,
			Servers:             servers,
			Namespaces:          q.list("namespace", true),
			Groups:              q.list("group", false),
			Username:            q.one("username"),
			Password:            q.secret("password", "passwordFile"),
			AccessKey:           q.one("accessKey"),
			SecretKey:           q.secret("secretKey", "secretKeyFile"),
			ServiceListInterval: q.duration("serviceListInterval"),
			ResyncGrace:         q.duration("resyncGrace"),
			CacheDir:            q.one("cacheDir"),
		}
	}
	if q.err != nil {
		return bad("%v", q.err)
	}
	for k := range params {
		return bad("unknown parameter %q for %s (known: %s)", k, r.Kind, strings.Join(knownParams[r.Kind], ", "))
	}
	return r, nil
}

var knownParams = map[string][]string{
	"zookeeper": {"name", "root", "sessionTimeout", "username", "password", "passwordFile", "resyncGrace"},
	"nacos":     {"name", "namespace", "group", "username", "password", "passwordFile", "accessKey", "secretKey", "secretKeyFile", "serviceListInterval", "resyncGrace", "cacheDir"},
}

// paramReader takes parameters out of a URL query; what is left is unknown.
type paramReader struct {
	params url.Values
	err    error // the first bad value
}

func (q *paramReader) one(key string) string {
	v := q.params.Get(key)
	q.params.Del(key)
	return v
}

// list splits every value of key at commas; keepEmpty keeps empty items
// (an empty namespace is the public one).
func (q *paramReader) list(key string, keepEmpty bool) []string {
	var out []string
	for _, v := range q.params[key] {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" || keepEmpty {
				out = append(out, item)
			}
		}
	}
	q.params.Del(key)
	return out
}

// secret returns the value of key, or the content of the file named by
// fileKey (trailing newlines trimmed); not both. Errors never show the
// secret.
func (q *paramReader) secret(key, fileKey string) string {
	v, file := q.one(key), q.one(fileKey)
	if file == "" {
		return v
	}
	if v != "" {
		q.fail(fmt.Errorf("give %s or %s, not both", key, fileKey))
		return ""
	}
	b, err := readSecretFile(file)
	if err != nil {
		q.fail(fmt.Errorf("%s: %w", fileKey, err))
		return ""
	}
	v = strings.TrimRight(string(b), "\r\n")
	if v == "" {
		q.fail(fmt.Errorf("%s %q is empty", fileKey, file))
	}
	return v
}

// maxSecretFile bounds a secret file: a password is short, and a path
// such as /dev/zero must not hang the start.
const maxSecretFile = 64 << 10

func readSecretFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%q is larger than %d bytes: not a password file", name, maxSecretFile)
	}
	return b, nil
}

func (q *paramReader) fail(err error) {
	if q.err == nil {
		q.err = err
	}
}

func (q *paramReader) duration(key string) time.Duration {
	v := q.one(key)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil && q.err == nil {
		q.err = fmt.Errorf("%s %q: want a duration such as 30s", key, v)
	}
	return d
}
