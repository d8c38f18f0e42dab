package metadata

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
)

// Errors returned by Fetch, wrapped with details (errors.Is matches them).
var (
	// ErrUnsupportedProtocol: the MetadataService is not exported over the
	// dubbo protocol with hessian2 serialization (e.g. protocol "tri").
	ErrUnsupportedProtocol = errors.New("metadata: unsupported MetadataService protocol")
	// ErrInvalidParams: the arguments or the instance's
	// "dubbo.metadata-service.url-params" do not describe a MetadataService
	// (no host, port or revision).
	ErrInvalidParams = errors.New("metadata: invalid MetadataService parameters")
	// ErrTransport: dialing the MetadataService, or writing the request or
	// reading the response on the connection, failed. When the context
	// ended the call, the error also wraps context.Cause(ctx).
	ErrTransport = errors.New("metadata: MetadataService connection failed")
	// ErrNotFound: the provider answered null, as it does for a revision it
	// does not (or no longer) serve.
	ErrNotFound = errors.New("metadata: revision not found")
	// ErrRemote: the provider answered with an exception or an error status.
	ErrRemote = errors.New("metadata: MetadataService returned an error")
	// ErrMalformed: the response could not be decoded.
	ErrMalformed = errors.New("metadata: malformed response")
	// ErrRevisionMismatch: the provider answered with the MetadataInfo of
	// another revision.
	ErrRevisionMismatch = errors.New("metadata: revision mismatch")
)

// Parameters of the MetadataService and their defaults.
const (
	// DefaultTimeout bounds a Fetch whose context has no deadline.
	DefaultTimeout = 5 * time.Second

	// ServiceInterface is the interface of the MetadataService.
	ServiceInterface = "org.apache.dubbo.metadata.MetadataService"
	// DefaultServiceVersion is the MetadataService version when the
	// URL parameters do not name one.
	DefaultServiceVersion = "1.0.0"

	protocolDubbo        = "dubbo"
	serializationHessian = "hessian2"

	// requestID is the id of the only request sent on a connection.
	requestID = 1
)

// Fetch calls MetadataService.getMetadataInfo(revision) on the instance.
// params are the decoded JSON of the instance's "dubbo.metadata-service.url-params"
// metadata (e.g. {"group":"app","port":"43819","protocol":"dubbo","serialization":"hessian2","version":"1.0.0"}).
//
// host is the instance's address (an IP or a host name, without port); app
// is its application name, the group the MetadataService is exported under.
// The call uses one TCP connection, closed before Fetch returns, and ends
// when ctx is done; without a deadline in ctx, DefaultTimeout applies.
//
// The result belongs to the caller. Errors wrap one of the Err* values of
// this package, and context.Cause(ctx) when the context ended the call.
func Fetch(ctx context.Context, host, app, revision string, params map[string]string) (*info.MetadataInfo, error) {
	addr, req, err := newRequest(host, app, revision, params)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	mi, err := call(ctx, addr, req)
	if err != nil {
		return nil, fmt.Errorf("%w (app %s, revision %s, MetadataService %s)", err, app, short(revision), addr)
	}
	if mi.Revision != "" && mi.Revision != revision {
		return nil, fmt.Errorf("%w: asked for %s, got %s (app %s, MetadataService %s)",
			ErrRevisionMismatch, short(revision), short(mi.Revision), app, addr)
	}
	return mi, nil
}

// newRequest validates the arguments of Fetch and builds the request.
func newRequest(host, app, revision string, params map[string]string) (string, request, error) {
	proto := params["protocol"]
	switch proto {
	case protocolDubbo:
	case "":
		return "", request{}, fmt.Errorf("%w: no protocol in the URL parameters", ErrInvalidParams)
	default:
		return "", request{}, fmt.Errorf("%w: %q (only %q is supported)", ErrUnsupportedProtocol, proto, protocolDubbo)
	}
	if s := params["serialization"]; s != "" && s != serializationHessian {
		return "", request{}, fmt.Errorf("%w: serialization %q (only %q is supported)", ErrUnsupportedProtocol, s, serializationHessian)
	}
	if host == "" {
		return "", request{}, fmt.Errorf("%w: empty host", ErrInvalidParams)
	}
	port, err := strconv.ParseUint(params["port"], 10, 16)
	if err != nil || port == 0 {
		return "", request{}, fmt.Errorf("%w: port %q", ErrInvalidParams, params["port"])
	}
	if revision == "" {
		return "", request{}, fmt.Errorf("%w: empty revision", ErrInvalidParams)
	}
	// Like dubbo-go and Java Dubbo, the group is the application name,
	// whatever the URL parameters say.
	group := cmp.Or(app, params["group"])
	if group == "" {
		return "", request{}, fmt.Errorf("%w: no application name", ErrInvalidParams)
	}
	req := request{
		ID:        requestID,
		Interface: ServiceInterface,
		Group:     group,
		Version:   cmp.Or(params["version"], DefaultServiceVersion),
		Token:     params["token"],
		Revision:  revision,
	}
	return net.JoinHostPort(host, strconv.FormatUint(port, 10)), req, nil
}

// call sends req to addr and reads the reply, within ctx (which has a
// deadline).
func call(ctx context.Context, addr string, req request) (_ *info.MetadataInfo, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, transportError(ctx, "dial", err)
	}
	defer conn.Close()

	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, transportError(ctx, "set deadline", err)
		}
		req.Timeout = max(time.Until(dl).Truncate(time.Millisecond), time.Millisecond)
	}

	// Cancellation unblocks the I/O by moving the connection's deadline to
	// the past. It is registered after SetDeadline above, which would
	// otherwise overwrite it; the deferred stop waits for a running
	// AfterFunc, so nothing touches conn after call returns.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = conn.SetDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()

	pkt, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(pkt); err != nil {
		return nil, transportError(ctx, "write request", err)
	}
	mi, err := readResponse(bufio.NewReader(conn), req.ID)
	if err != nil {
		if errors.Is(err, ErrMalformed) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrRemote) {
			return nil, err
		}
		return nil, transportError(ctx, "read response", err)
	}
	return mi, nil
}

// transportError wraps an I/O error, and the context's cause when the
// context ended the call (the net error then only says "i/o timeout").
func transportError(ctx context.Context, op string, err error) error {
	if _, ok := ctx.Deadline(); ok && ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection's deadline is the context's: the context is done
		// now or within the timer's latency.
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %s: %w", ErrTransport, op, context.Cause(ctx))
	}
	return fmt.Errorf("%w: %s: %w", ErrTransport, op, err)
}

// short abbreviates a revision (128 hex digits in dubbo-go) for messages.
func short(rev string) string {
	const n = 16
	if len(rev) <= n {
		return rev
	}
	return rev[:n] + "…"
}
