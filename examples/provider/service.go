package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/protocol/triple/triple_protocol"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Interface names as written in greeter.proto ("package.Service"). They are the
// Dubbo interface names too, so they appear as ZooKeeper paths and as the gRPC
// path prefix ("/dubbomesh.examples.greeter.Greeter/Greet").
const (
	GreeterInterface = "dubbomesh.examples.greeter.Greeter"
	EchoInterface    = "dubbomesh.examples.greeter.Echo"
)

// GreeterHandler is the server side of service Greeter in greeter.proto.
type GreeterHandler interface {
	Greet(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

// EchoHandler is the server side of service Echo in greeter.proto.
type EchoHandler interface {
	Echo(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

// greeterServiceInfo describes Greeter to dubbo-go the way protoc-gen-triple
// would, written by hand so that the example needs no code generator.
var greeterServiceInfo = common.ServiceInfo{
	InterfaceName: GreeterInterface,
	ServiceType:   (*GreeterHandler)(nil),
	Methods: []common.MethodInfo{{
		Name:        "Greet",
		Type:        constant.CallUnary,
		ReqInitFunc: func() any { return new(wrapperspb.StringValue) },
		MethodFunc: func(ctx context.Context, args []any, handler any) (any, error) {
			req, ok := args[0].(*wrapperspb.StringValue)
			if !ok {
				return nil, fmt.Errorf("greeter: Greet: unexpected request type %T", args[0])
			}
			res, err := handler.(GreeterHandler).Greet(ctx, req)
			if err != nil {
				return nil, err
			}
			return triple_protocol.NewResponse(res), nil
		},
	}},
}

// echoServiceInfo describes Echo, see greeterServiceInfo.
var echoServiceInfo = common.ServiceInfo{
	InterfaceName: EchoInterface,
	ServiceType:   (*EchoHandler)(nil),
	Methods: []common.MethodInfo{{
		Name:        "Echo",
		Type:        constant.CallUnary,
		ReqInitFunc: func() any { return new(wrapperspb.StringValue) },
		MethodFunc: func(ctx context.Context, args []any, handler any) (any, error) {
			req, ok := args[0].(*wrapperspb.StringValue)
			if !ok {
				return nil, fmt.Errorf("greeter: Echo: unexpected request type %T", args[0])
			}
			res, err := handler.(EchoHandler).Echo(ctx, req)
			if err != nil {
				return nil, err
			}
			return triple_protocol.NewResponse(res), nil
		},
	}},
}

// GreeterService implements GreeterHandler. Its reply names the instance that
// answered, so tests can tell providers apart.
type GreeterService struct {
	app     string
	port    int
	version string
	group   string
	tag     string
	// trace, when set, receives one line per call: "served Greet <arg>".
	trace io.Writer
	// headers, when set, receives one line per call: "headers Greet" and
	// the request's headers (dubbo-go's incoming attachments) as JSON.
	headers io.Writer
}

var _ GreeterHandler = (*GreeterService)(nil)

// Greet answers "hello <arg> from <app>@<port> v<version>", followed by
// " group=<group>" and " tag=<tag>" when the provider has them. An argument
// starting with "sleep=<duration>;" makes it wait that long first (tests use
// it to have a call in flight when they break the path).
func (g *GreeterService) Greet(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	if g.trace != nil {
		fmt.Fprintf(g.trace, "served Greet %s\n", req.GetValue())
	}
	if g.headers != nil {
		b, err := json.Marshal(incomingHeaders(ctx))
		if err != nil {
			return nil, fmt.Errorf("greeter: Greet: headers: %w", err)
		}
		fmt.Fprintf(g.headers, "headers Greet %s\n", b)
	}
	if rest, ok := strings.CutPrefix(req.GetValue(), "sleep="); ok {
		if d, err := time.ParseDuration(strings.SplitN(rest, ";", 2)[0]); err == nil && d > 0 {
			select {
			case <-time.After(min(d, time.Minute)):
			case <-ctx.Done():
			}
		}
	}
	reply := fmt.Sprintf("hello %s from %s@%d v%s", req.GetValue(), g.app, g.port, g.version)
	if g.group != "" {
		reply += " group=" + g.group
	}
	if g.tag != "" {
		reply += " tag=" + g.tag
	}
	return wrapperspb.String(reply), nil
}

// incomingHeaders returns the request headers of the call in ctx: dubbo-go
// v3.3's Triple server turns them into the invocation's attachments (keys
// lower-cased, values []string) and hands them to the handler in ctx under
// constant.AttachmentKey.
func incomingHeaders(ctx context.Context) map[string][]string {
	atts, _ := ctx.Value(constant.AttachmentKey).(map[string]any)
	out := make(map[string][]string, len(atts))
	for k, v := range atts {
		switch v := v.(type) {
		case []string:
			out[k] = v
		case string:
			out[k] = []string{v}
		}
	}
	return out
}

// EchoService implements EchoHandler.
type EchoService struct{}

var _ EchoHandler = EchoService{}

func (EchoService) Echo(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(req.GetValue()), nil
}
