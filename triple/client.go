package triple

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dubbomesh/dubbomesh/naming"
)

// Triple headers naming the Dubbo group and version of a call.
const (
	HeaderGroup   = naming.HeaderGroup
	HeaderVersion = naming.HeaderVersion
)

// ErrUnsupportedPayload is returned for calls the mesh path cannot carry:
// a protobuf call whose request or reply is not a protobuf message, a
// hessian2 call with an argument hessian2 cannot encode or a reply that is
// not a pointer, or another serialization. They go direct.
var ErrUnsupportedPayload = errors.New("triple: payload not supported on the mesh path")

// Target says how mesh calls leave the process.
type Target struct {
	// Sidecar is the address of the local sidecar's outbound listener,
	// e.g. "127.0.0.1:15001". Calls carry the mesh host as :authority.
	Sidecar string `yaml:"sidecar"`
	// Proxyless sends calls to xds:///host through grpc-go's xDS resolver
	// (bootstrap from GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG)
	// instead of the sidecar. The resolver is linked only into programs
	// that import it (package adapter/proxyless, or google.golang.org/grpc/xds):
	// without it calls fail with ErrNoXDSResolver.
	Proxyless bool `yaml:"proxyless"`
	// ProxylessPort, when set, names the xDS listener host:port, as istiod
	// does (a client of istiod dials xds:///host:port, the port being the
	// ServiceEntry's Triple service port, dubbomesh's istio.ports.triple,
	// 50051 by default); 0: xds:///host, as dubbomesh's own xDS server
	// names them. Only with Proxyless.
	ProxylessPort uint16 `yaml:"proxylessPort"`
}

// ProxylessTarget is the gRPC target a proxyless call to host dials:
// xds:///host, or xds:///host:port with ProxylessPort.
func (t Target) ProxylessTarget(host string) string {
	if t.ProxylessPort == 0 {
		return "xds:///" + host
	}
	return "xds:///" + net.JoinHostPort(host, strconv.Itoa(int(t.ProxylessPort)))
}

// Pool holds one client connection per mesh host, shared by every
// reference to that host. It is safe for concurrent use.
type Pool struct {
	target Target
	opts   []grpc.DialOption

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
}

// ErrClosed is returned by a Pool's calls after Close; such a call was not
// sent.
var ErrClosed = errors.New("triple: pool closed")

// ErrNoXDSResolver is returned for a proxyless target in a program that
// does not link grpc-go's xds resolver.
var ErrNoXDSResolver = errors.New(`triple: proxyless needs grpc-go's xds resolver: import _ "github.com/dubbomesh/dubbomesh/adapter/proxyless"`)

// XDSResolverLinked reports whether grpc-go's xds:/// resolver is
// registered in this program (Target.Proxyless needs it).
func XDSResolverLinked() bool { return resolver.Get("xds") != nil }

// NewPool returns a pool dialing per target. Extra dial options are appended
// to the defaults (insecure transport: the sidecar adds mTLS).
func NewPool(target Target, opts ...grpc.DialOption) *Pool {
	return &Pool{target: target, opts: opts, conns: map[string]*grpc.ClientConn{}}
}

// Conn returns the shared connection for host, creating it on first use.
// Connecting is lazy: a dead sidecar shows up as call errors, not here.
func (p *Pool) Conn(host string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if cc, ok := p.conns[host]; ok {
		return cc, nil
	}
	if p.target.Proxyless && !XDSResolverLinked() {
		return nil, ErrNoXDSResolver
	}
	target := p.target.ProxylessTarget(host)
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if !p.target.Proxyless {
		target = "passthrough:///" + p.target.Sidecar
		opts = append(opts, grpc.WithAuthority(host))
	}
	cc, err := grpc.NewClient(target, append(opts, p.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("triple: mesh connection for %s: %w", host, err)
	}
	p.conns[host] = cc
	return cc, nil
}

// Close closes every connection; later calls fail with ErrClosed (before
// sending). Calls in flight end with the connection. Safe to call twice.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for host, cc := range p.conns {
		errs = append(errs, cc.Close())
		delete(p.conns, host)
	}
	return errors.Join(errs...)
}

// Call is one unary call on the mesh path.
type Call struct {
	Host      string // mesh host, e.g. org.example.greeter.dubbo
	Interface string // Dubbo interface (the gRPC service name)
	Method    string
	Group     string
	Version   string
	// HashKey, when not empty, is sent as the naming.HeaderHashKey header
	// for consistent hashing (see HashKey).
	HashKey string
	// Headers are extra request headers (Dubbo attachments, trace context),
	// each with its values in order.
	Headers map[string][]string
	// Serialization is SerializationProtobuf (the default when empty) for
	// an IDL call, or SerializationHessian2 for a non-IDL call (see
	// hessian.go for its wire format).
	Serialization string
	// Request is the one argument of a protobuf call (a proto.Message).
	Request any
	// Args are all the arguments of a hessian2 call, in order.
	Args []any
	// ArgTypes optionally names the Java type of each of Args; when empty
	// it is derived from the values (JavaType).
	ArgTypes []string
	// Reply receives the result: a proto.Message for a protobuf call; for
	// a hessian2 call a non-nil pointer (to a registered POJO's struct, a
	// scalar, a slice, a map, any), or nil to drop the result.
	Reply any
}

// Invoke runs c through the pool's connection for c.Host. A failure is an
// *Error (see Classify) wrapping the gRPC status error.
func (p *Pool) Invoke(ctx context.Context, c *Call) error {
	req, reply, opts, err := payload(c)
	if err != nil {
		return newError(OutcomeUnsupported, "unsupported_payload", err)
	}
	cc, err := p.Conn(c.Host)
	if err != nil {
		return newError(OutcomeNotSent, "dial", err)
	}
	md := metadata.MD{}
	for k, v := range c.Headers {
		md.Append(k, v...)
	}
	if c.Group != "" {
		md.Set(HeaderGroup, c.Group)
	}
	if c.Version != "" {
		md.Set(HeaderVersion, c.Version)
	}
	if c.HashKey != "" {
		md.Set(naming.HeaderHashKey, c.HashKey)
	}
	if len(md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, metadata.Join(md, outgoing(ctx)))
	}
	var header metadata.MD
	err = cc.Invoke(ctx, "/"+c.Interface+"/"+c.Method, req, reply, append(opts, grpc.Header(&header))...)
	return Classify(err, header)
}

// payload returns the request and reply messages of c and the call options
// its serialization needs. Its errors wrap ErrUnsupportedPayload.
func payload(c *Call) (req, reply any, opts []grpc.CallOption, err error) {
	switch c.Serialization {
	case "", SerializationProtobuf:
		req, ok1 := c.Request.(proto.Message)
		reply, ok2 := c.Reply.(proto.Message)
		if !ok1 || !ok2 {
			return nil, nil, nil, fmt.Errorf("%w: protobuf call with %T and %T", ErrUnsupportedPayload, c.Request, c.Reply)
		}
		return req, reply, nil, nil
	case SerializationHessian2:
		if c.Reply != nil {
			if rv := reflect.ValueOf(c.Reply); rv.Kind() != reflect.Pointer || rv.IsNil() {
				return nil, nil, nil, fmt.Errorf("%w: hessian2 reply %T is not a non-nil pointer", ErrUnsupportedPayload, c.Reply)
			}
		}
		f, err := encodeRequest(c.Args, c.ArgTypes)
		if err != nil {
			return nil, nil, nil, err
		}
		return frame(f), &hessianReply{target: c.Reply}, []grpc.CallOption{grpc.ForceCodecV2(wrapperCodec{})}, nil
	default:
		return nil, nil, nil, fmt.Errorf("%w: serialization %q", ErrUnsupportedPayload, c.Serialization)
	}
}

func outgoing(ctx context.Context) metadata.MD {
	md, _ := metadata.FromOutgoingContext(ctx)
	return md
}

// Envoy local replies that mean the request never left the sidecar.
var localReplies = []struct {
	text, reason string
	outcome      Outcome
}{
	{"no healthy upstream", "no_healthy_upstream", OutcomeNotSent},
	{"reset reason: connection failure", "upstream_connect_failure", OutcomeNotSent},
	{"reset reason: remote connection failure", "upstream_connect_failure", OutcomeNotSent},
	{"reset reason: local connection failure", "upstream_connect_failure", OutcomeNotSent},
	{"delayed connect error", "upstream_connect_failure", OutcomeNotSent},
	{"reset reason: overflow", "upstream_overflow", OutcomeNotSent},
	{"404 (Not Found)", "no_route", OutcomeNotSent},
	{"cluster not found", "no_route", OutcomeNotSent},
	// dubbomesh's routes: no provider of the call's group, version or
	// forced tag (a direct response in Envoy; grpc-go, which has none,
	// fails the call on the route's action).
	{"dubbomesh: no ", "no_provider", OutcomeUnsupported},
	{"matched route does not have a supported route action type", "no_provider", OutcomeUnsupported},
	{"no matched route was found", "no_route", OutcomeNotSent},
}

// Transport failures, without response headers, that happen before a
// request is written: the sidecar could not be reached or refused the
// stream.
var notWritten = []struct{ text, reason string }{
	{"Error while dialing", "sidecar_unreachable"},
	{"connection refused", "sidecar_unreachable"},
	{"REFUSED_STREAM", "refused_stream"},
	{"no such host", "sidecar_unreachable"},
}

// Classify sorts a mesh call's error for the router (DESIGN.md §5): a
// non-nil err becomes an *Error wrapping it. The
// request provably did not reach a provider when the call failed with
// UNAVAILABLE before any response header because the sidecar could not be
// reached or refused the stream (connection refused, REFUSED_STREAM), or
// with one of the sidecar's local replies such as "no healthy upstream".
// UNAVAILABLE without headers for other reasons (the connection dropped
// after the request was written, e.g. a sidecar killed mid-call) may have
// reached a provider, so it is retried only for idempotent methods. Any
// other status with response headers is the provider's answer.
func Classify(err error, header metadata.MD) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return newError(OutcomeMaybeSent, "non_grpc_error", err)
	}
	msg := st.Message()
	for _, lr := range localReplies {
		if strings.Contains(msg, lr.text) {
			return newError(lr.outcome, lr.reason, err)
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		if len(header) == 0 {
			for _, nw := range notWritten {
				if strings.Contains(msg, nw.text) {
					return newError(OutcomeNotSent, nw.reason, err)
				}
			}
			return newError(OutcomeMaybeSent, "unavailable_no_headers", err)
		}
		return newError(OutcomeMaybeSent, "unavailable", err)
	case codes.DeadlineExceeded:
		return newError(OutcomeMaybeSent, "deadline_exceeded", err)
	case codes.Canceled:
		return newError(OutcomeMaybeSent, "canceled", err)
	case codes.Internal, codes.Unknown:
		if len(header) == 0 {
			return newError(OutcomeMaybeSent, strings.ToLower(st.Code().String()), err)
		}
	}
	return newError(OutcomeAnswered, "application", err)
}
