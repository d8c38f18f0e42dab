package adapter

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"dubbo.apache.org/dubbo-go/v3/cluster/directory"
	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/filter"
	"dubbo.apache.org/dubbo-go/v3/protocol/base"
	"dubbo.apache.org/dubbo-go/v3/protocol/result"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"
)

// meshCluster is the "dubbomesh" cluster extension.
type meshCluster struct{}

// Join builds the direct path as the reference's original cluster over dir
// and wraps it with the mesh path and the router. When the adapter cannot
// start (bad configuration), the reference gets its original cluster alone
// and the error is logged: the mesh never breaks an application.
func (*meshCluster) Join(dir directory.Directory) base.Invoker {
	u := consumerURL(dir)
	origName := u.GetParam(originalClusterKey, constant.DefaultCluster)
	orig, err := extension.GetCluster(origName)
	if err != nil {
		slog.Default().Error("dubbomesh: original cluster unavailable; using failover", "cluster", origName, "error", err)
		if orig, err = extension.GetCluster(constant.ClusterKeyFailover); err != nil {
			// As dubbo-go's registry protocol does for a missing cluster: no
			// invoker, the reference reports itself unavailable.
			slog.Default().Error("dubbomesh: no failover cluster registered either; import dubbo-go's cluster/cluster/failover", "error", err)
			return nil
		}
	}
	direct := orig.Join(dir)
	p, err := get()
	if err != nil {
		slog.Default().Error("dubbomesh adapter disabled: calls use the direct path only", "error", err)
		return direct
	}
	iface := u.GetParam(constant.InterfaceKey, strings.TrimPrefix(u.Path, "/"))
	inv := &invoker{
		dir:     dir,
		watch:   watchOf(dir.GetURL()),
		direct:  direct,
		proc:    p,
		url:     u,
		trace:   traceFilter(u),
		iface:   iface,
		host:    p.cfg.Hosts.Interface(iface),
		group:   u.GetParam(constant.GroupKey, ""),
		version: u.GetParam(constant.VersionKey, ""),
		timeout: parseTimeout(u.GetParam(constant.TimeoutKey, "")),
		serial:  serialization(u),
	}
	if inv.watch == nil {
		p.log.Warn("the reference's directory has no dubbomesh provider watch; its providers are listed on every mesh call", "interface", iface)
	}
	p.log.Info("reference joined the mesh router", "interface", iface, "meshHost", inv.host, "directCluster", origName, "serialization", inv.serial, "tracing", inv.trace != nil)
	return inv
}

// consumerURL is the reference's URL: a registry directory's URL carries it
// as SubURL.
func consumerURL(dir directory.Directory) *common.URL {
	u := dir.GetURL()
	if u.SubURL != nil {
		return u.SubURL
	}
	return u
}

// traceFilter returns dubbo-go's OpenTelemetry consumer filter
// (otelClientTrace) when the reference's consumer filters include it, that
// is when the application turned dubbo-go's tracing on; nil otherwise.
//
// With a registry, dubbo-go v3.3 builds the reference's consumer filter
// chain around each provider's invoker inside the registry directory, below
// the cluster: the direct path runs it, the mesh path would not. So the mesh
// path runs this one filter itself, and the call gets the same client span
// and the same injected trace context (traceparent, or b3 and x-b3-*, as
// attachments that become request headers) as on the direct path. The
// other consumer filters stay on the direct path only: they are written
// for one provider (the graceful-shutdown filter, for one, takes a
// provider's closing flag as the whole invoker closing).
func traceFilter(u *common.URL) filter.Filter {
	for name := range strings.SplitSeq(u.GetParam(constant.ReferenceFilterKey, ""), ",") {
		if strings.TrimSpace(name) != constant.OTELClientTraceKey {
			continue
		}
		if f, ok := extension.GetFilter(constant.OTELClientTraceKey); ok {
			return f
		}
		// As on the direct path, the filter must be imported
		// (dubbo-go's filter/otel/trace) for tracing to happen.
		slog.Default().Warn("dubbomesh: reference traces with otelClientTrace, but no such filter is registered; import dubbo-go's filter/otel/trace")
	}
	return nil
}

// serialization is how the reference's calls travel on the mesh path, from
// its serialization parameter as dubbo-go's Triple client reads it:
// protobuf and json references are IDL calls (protobuf messages; the mesh
// path sends them as binary protobuf, which the provider accepts), hessian2
// references are non-IDL calls. Any other (msgpack) is passed on, and the
// mesh path refuses it: those calls go direct.
func serialization(u *common.URL) string {
	switch s := u.GetParam(constant.SerializationKey, ""); s {
	case "", constant.ProtobufSerialization, constant.JSONSerialization:
		return triple.SerializationProtobuf
	default:
		return s
	}
}

const defaultTimeout = 3 * time.Second

func parseTimeout(s string) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d
	}
	if ms, err := time.ParseDuration(s + "ms"); err == nil && ms > 0 {
		return ms
	}
	return defaultTimeout
}

// invoker routes each invocation to the mesh or the direct path.
type invoker struct {
	dir     directory.Directory
	watch   *providerWatch // the directory's providers; nil: list dir per call
	direct  base.Invoker
	proc    *process
	url     *common.URL   // the reference's URL
	trace   filter.Filter // dubbo-go's otelClientTrace filter, or nil
	iface   string
	host    string
	group   string
	version string
	timeout time.Duration
	serial  string // triple.SerializationProtobuf, triple.SerializationHessian2, ...
	// badHashArgs logs an invalid hash.arguments once.
	badHashArgs sync.Once
}

var _ base.Invoker = (*invoker)(nil)

func (i *invoker) GetURL() *common.URL { return i.direct.GetURL() }

// IsAvailable: the direct path has providers, or the reference has none
// in any of its directories (a mesh-only service) and the mesh path is in
// use. A reference subscribed several ways has one invoker per directory
// and dubbo-go's zone-aware cluster picks an available one: an empty
// directory's invoker must not claim the calls while another has
// providers.
func (i *invoker) IsAvailable() bool {
	if i.direct.IsAvailable() {
		return true
	}
	if i.watch != nil && i.watch.ref.load().count > 0 {
		return false
	}
	return i.proc.router.MeshPercent(i.iface) > 0
}

func (i *invoker) Destroy() { i.direct.Destroy() }

// providers returns what is known of the reference's providers in all its
// directories: the watched view, or (without a watch) one derived from
// listing this directory now.
func (i *invoker) providers(inv base.Invocation) *providerView {
	if i.watch != nil {
		return i.watch.ref.load()
	}
	if i.dir == nil {
		return &providerView{meshable: true}
	}
	return newProviderView(i.dir.List(inv), i.url.ServiceKey())
}

// Invoke implements base.Invoker. A reference whose providers export only
// Dubbo2 goes direct (router.NotSupported, reason unsupported_protocol:
// no breaker penalty); one with no provider at all has no direct path, so
// its calls take the mesh and a failed one says there is nothing to fall
// back to.
func (i *invoker) Invoke(ctx context.Context, inv base.Invocation) result.Result {
	var res result.Result
	view := i.providers(inv)
	direct := func(ctx context.Context) error {
		res = i.direct.Invoke(ctx, inv)
		return res.Error()
	}
	if view.count == 0 {
		direct = nil
	}
	err := i.proc.router.Call(ctx, i.iface, inv.MethodName(),
		func(ctx context.Context) error {
			if !view.meshable {
				return router.NotSupported("unsupported_protocol", errUnsupportedProtocol)
			}
			mesh := meshPath{i: i, view: view}
			if i.trace == nil {
				res = mesh.Invoke(ctx, inv)
			} else {
				res = i.trace.OnResponse(ctx, i.trace.Invoke(ctx, mesh, inv), mesh, inv)
			}
			return res.Error()
		}, direct)
	if direct == nil && err != nil {
		// The router's error names the missing direct path (and wraps the
		// mesh error, if any).
		res = &result.RPCResult{Err: err}
	}
	return res
}

// meshPath is the mesh path as a dubbo-go invoker, for the trace filter.
type meshPath struct {
	i    *invoker
	view *providerView
}

var _ base.Invoker = meshPath{}

// GetURL is the reference's URL: the trace filter names the span's
// rpc.service after its service key, as the provider's URL on the direct
// path.
func (m meshPath) GetURL() *common.URL { return m.i.url }
func (meshPath) IsAvailable() bool     { return true }
func (meshPath) Destroy()              {}

func (m meshPath) Invoke(ctx context.Context, inv base.Invocation) result.Result {
	r := &result.RPCResult{}
	if err := m.i.invokeMesh(ctx, inv, m.view); err != nil {
		r.SetError(err)
	} else {
		r.SetResult(inv.Reply())
	}
	return r
}

// invokeMesh sends inv on the mesh path. An IDL call carries its one
// argument as the protobuf request; a non-IDL (hessian2) call carries all
// its arguments (dubbo-go's invocation holds them in Arguments and the
// result pointer in Reply).
func (i *invoker) invokeMesh(ctx context.Context, inv base.Invocation, view *providerView) error {
	call := &triple.Call{
		Host:          i.host,
		Interface:     i.iface,
		Method:        inv.MethodName(),
		Group:         i.group,
		Version:       i.version,
		Headers:       i.tagHeaders(headers(inv)),
		Serialization: i.serial,
		Reply:         inv.Reply(),
	}
	if i.serial == triple.SerializationProtobuf {
		if args := inv.Arguments(); len(args) == 1 {
			call.Request = args[0]
		}
	} else {
		call.Args = inv.Arguments()
	}
	call.HashKey = i.hashKey(inv, view)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, i.timeout)
		defer cancel()
	}
	return i.proc.pool.Invoke(ctx, call)
}

// Attachments dubbo-go uses internally; everything else a caller attached
// (including trace context such as traceparent, b3 or sw8) travels as a
// request header on the mesh path, as Triple does on the direct path:
// string values as one header value, []string values (the form dubbo-go's
// otel filter injects) as one value each.
var internalAttachments = map[string]bool{
	constant.TimeoutKey: true, constant.RetriesKey: true, constant.InterfaceKey: true,
	constant.PathKey: true, constant.VersionKey: true, constant.GroupKey: true,
	constant.AsyncKey: true, "dubbo": true, naming.HeaderGroup: true, naming.HeaderVersion: true,
	naming.HeaderHashKey: true,
}

func headers(inv base.Invocation) map[string][]string {
	var out map[string][]string
	for k, v := range inv.Attachments() {
		if internalAttachments[k] || k == "" || strings.HasPrefix(k, ":") {
			continue
		}
		var vals []string
		switch v := v.(type) {
		case string:
			vals = []string{v}
		case []string:
			vals = v
		}
		if len(vals) == 0 {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		k = strings.ToLower(k)
		out[k] = append(out[k], vals...)
	}
	return out
}

// tagHeaders adds the reference's Dubbo tag and force flag (its dubbo.tag
// and dubbo.force.tag parameters, e.g. client.WithForceTag) to the call's
// headers when the call did not attach its own, as dubbo-go's tag router
// reads them: the attachment first, then the reference's parameter.
func (i *invoker) tagHeaders(h map[string][]string) map[string][]string {
	for _, key := range []string{naming.HeaderTag, naming.HeaderForceTag} {
		if _, ok := h[key]; ok {
			continue
		}
		v := i.url.GetParam(key, "")
		if v == "" {
			continue
		}
		if h == nil {
			h = map[string][]string{}
		}
		h[key] = []string{v}
	}
	return h
}

// hashKey is the call's consistent-hashing key when its loadbalance is
// consistenthashing, else "". As dubbo-go's clusters do, loadbalance and
// hash.arguments are read per method from a provider's URL (the
// providers' parameters merged with the reference's; view.first), or from
// the reference's URL when it sets loadbalance itself or no provider is
// known.
func (i *invoker) hashKey(inv base.Invocation, view *providerView) string {
	u := i.url
	method := inv.MethodName()
	if methodParam(u, method, constant.LoadbalanceKey, "") == "" && view != nil && view.first != nil {
		u = view.first
	}
	if !strings.EqualFold(methodParam(u, method, constant.LoadbalanceKey, ""), constant.LoadBalanceKeyConsistentHashing) {
		return ""
	}
	spec := methodParam(u, method, hashArgumentsKey, triple.DefaultHashArguments)
	indices, err := triple.ParseHashArguments(spec)
	if err != nil {
		// dubbo-go's selector gives up on such a parameter too; the
		// route then hashes nothing and picks any provider.
		i.badHashArgs.Do(func() {
			i.proc.log.Warn("invalid hash.arguments; no hash key sent", "interface", i.iface, "method", method, "error", err)
		})
		return ""
	}
	return triple.HashKey(inv.Arguments(), indices)
}

// methodParam reads a parameter as dubbo-go does: the method's
// ("methods.M.key"), else the service's, else d.
func methodParam(u *common.URL, method, key, d string) string {
	return u.GetMethodParam(method, key, u.GetParam(key, d))
}

// hashArgumentsKey is Dubbo's hash.arguments parameter (dubbo-go's
// consistenthashing.HashArguments).
const hashArgumentsKey = "hash.arguments"
