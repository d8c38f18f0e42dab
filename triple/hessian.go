package triple

// Non-IDL calls: hessian2 over Triple.
//
// A Dubbo service without IDL (plain Go structs or Java POJOs, dubbo-go
// reference/service option serialization=hessian2 on protocol tri) travels
// over Triple's gRPC framing like an IDL call, with its arguments and result
// wrapped in two small protobuf messages. The facts below were read from
// dubbo-go v3.3.2 (protocol/triple/triple_protocol: codec.go,
// protocol_grpc.go, handler.go; protocol/triple: client.go, server.go,
// triple_invoker.go) and checked against a real dubbo-go provider by the
// tests of this package:
//
//   - Path /{interface}/{method}, the method name as the provider exports it
//     (a dubbo-go non-IDL service exports its Go method names as they are,
//     e.g. "GetUser"). Group and version in tri-service-group and
//     tri-service-version, attachments as plain request headers, as for IDL
//     calls.
//   - Content-Type application/grpc+proto: the outer message is protobuf.
//     dubbo-go's client registers its wrapping codec as "hessian2" but puts
//     its wire name "proto" in the header (captured from the wire, see
//     TestEncodeRequestGolden); dubbo-go's server then reads the request with
//     its proto codec, which unwraps the request wrapper into the Go
//     method's parameter types, and writes the reply with the service's
//     serialization as fallback codec (so the provider must export the
//     service with serialization hessian2). dubbo-go's legacy "dubbo3"
//     client, which v3.3.2 still picks for a hessian2 reference dialled
//     without a ClientInfo (or the deprecated WithIDL(NONIDL)), sends
//     application/grpc+hessian2 instead, and no arguments; the mesh path
//     always sends the current form.
//   - Request message, TripleRequestWrapper:
//     field 1 serializeType (string) "hessian2";
//     field 2 args (repeated bytes) one complete hessian2 encoding per
//     argument, each from a fresh encoder (no class definitions or
//     references are shared between arguments), in call order;
//     field 3 argTypes (repeated string) the Java type name of each argument
//     ("java.lang.String", "int", "long", "[B", a POJO's JavaClassName(),
//     ...). A dubbo-go server ignores argTypes (it decodes by the Go
//     method's parameter types); a Java server uses them to find the method.
//   - Response message, TripleResponseWrapper:
//     field 1 serializeType (string); field 2 data (bytes) the hessian2
//     encoding of the result; field 3 type (string) its Java type name.
//     A dubbo-go v3.3.2 server writes the request wrapper's shape for its
//     reply (args = [result], argTypes = [type]); with the same field numbers
//     and wire types that reads as the response wrapper (for a repeated
//     field read as a singular one, the last value wins). A message with
//     empty data is a null (void) result; a zero-length message too.
//   - Errors: the gRPC status (grpc-status, grpc-message), as for IDL calls.
//
// The wrapper messages are written and read here with protowire, and the
// gRPC codec only moves bytes: arguments are encoded before the call, so an
// argument hessian2 cannot encode never leaves the process.

import (
	"errors"
	"fmt"
	"reflect"

	hessian "github.com/apache/dubbo-go-hessian2"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Serializations of a Call, named as dubbo-go's "serialization" URL
// parameter names them.
const (
	// SerializationProtobuf: one protobuf request, one protobuf reply (IDL).
	SerializationProtobuf = "protobuf"
	// SerializationHessian2: any number of hessian2 arguments and a hessian2
	// result, wrapped as described above (non-IDL).
	SerializationHessian2 = "hessian2"
)

// ErrMalformedReply is returned when a non-IDL reply cannot be decoded into
// the call's Reply.
var ErrMalformedReply = errors.New("triple: malformed hessian2 reply")

// Field numbers of the wrapper messages.
const (
	fieldSerializeType protowire.Number = 1
	fieldArgs          protowire.Number = 2 // request: args; response: data
	fieldArgTypes      protowire.Number = 3 // request: argTypes; response: type
)

// maxAssignDepth bounds how deep a decoded value is copied into the reply.
const maxAssignDepth = 64

// encodeRequest returns the TripleRequestWrapper of args. types, when not
// empty, gives the Java type name of each argument; otherwise they are
// derived from the Go values (JavaType). Errors wrap ErrUnsupportedPayload.
func encodeRequest(args []any, types []string) (b []byte, err error) {
	if len(types) != 0 && len(types) != len(args) {
		return nil, fmt.Errorf("%w: %d argument types for %d arguments", ErrUnsupportedPayload, len(types), len(args))
	}
	b = protowire.AppendTag(b, fieldSerializeType, protowire.BytesType)
	b = protowire.AppendString(b, SerializationHessian2)
	for i, a := range args {
		enc, err := encodeHessian(a)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %d (%T): %w", ErrUnsupportedPayload, i, a, err)
		}
		b = protowire.AppendTag(b, fieldArgs, protowire.BytesType)
		b = protowire.AppendBytes(b, enc)
	}
	for i, a := range args {
		t := ""
		if len(types) != 0 {
			t = types[i]
		} else {
			t = JavaType(a)
		}
		b = protowire.AppendTag(b, fieldArgTypes, protowire.BytesType)
		b = protowire.AppendString(b, t)
	}
	return b, nil
}

// encodeHessian encodes v with a fresh hessian2 encoder. The encoder's panics
// on odd values become errors: such a value goes direct instead.
func encodeHessian(v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("hessian2 encoder panicked: %v", r)
		}
	}()
	e := hessian.NewEncoder()
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return e.Buffer(), nil
}

// decodeReply reads a TripleResponseWrapper (or the request wrapper shape a
// dubbo-go server answers with) and stores its hessian2 data in reply, a
// non-nil pointer, or checks and drops it when reply is nil. A null or void
// result sets *reply to its zero value. It never panics, whatever the bytes.
func decodeReply(b []byte, reply any) error {
	var (
		serialization string
		data          []byte
	)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", ErrMalformedReply, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == fieldSerializeType && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: serializeType: %w", ErrMalformedReply, protowire.ParseError(n))
			}
			serialization, b = string(v), b[n:]
		case num == fieldArgs && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: data: %w", ErrMalformedReply, protowire.ParseError(n))
			}
			data, b = v, b[n:]
		case num == fieldSerializeType || num == fieldArgs || num == fieldArgTypes:
			if typ != protowire.BytesType {
				return fmt.Errorf("%w: field %d has wire type %d, want bytes", ErrMalformedReply, num, typ)
			}
			fallthrough // field 3: the result's Java type name, not needed
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %w", ErrMalformedReply, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if serialization != "" && serialization != SerializationHessian2 {
		return fmt.Errorf("%w: serializeType %q, want %q", ErrMalformedReply, serialization, SerializationHessian2)
	}
	var v any
	if len(data) > 0 {
		var err error
		if v, err = decodeHessian(data); err != nil {
			return err
		}
	}
	if reply == nil {
		return nil
	}
	rv := reflect.ValueOf(reply)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: reply %T is not a non-nil pointer", ErrUnsupportedPayload, reply)
	}
	if err := assign(rv.Elem(), v, 0); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedReply, err)
	}
	return nil
}

// decodeHessian decodes one hessian2 value; decoder panics on malformed
// input become errors.
func decodeHessian(b []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: hessian2 decoder panicked: %v", ErrMalformedReply, r)
		}
	}()
	v, err = hessian.NewDecoder(b).Decode()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedReply, err)
	}
	return v, nil
}

// assign stores the decoded value v in dst, converting what hessian2 decodes
// (int32, int64, float64, string, []byte, time.Time, []any, map[any]any,
// pointers to registered POJOs) to dst's type. A nil v sets dst's zero value.
// It reports a mismatch instead of panicking.
func assign(dst reflect.Value, v any, depth int) error {
	if depth > maxAssignDepth {
		return fmt.Errorf("value nested deeper than %d", maxAssignDepth)
	}
	if v == nil {
		dst.SetZero()
		return nil
	}
	src := reflect.ValueOf(v)
	if src.Type().AssignableTo(dst.Type()) {
		dst.Set(src)
		return nil
	}
	if src.Kind() == reflect.Pointer {
		if src.IsNil() {
			dst.SetZero()
			return nil
		}
		return assign(dst, src.Elem().Interface(), depth+1)
	}
	if src.Kind() == reflect.Interface {
		return assign(dst, src.Elem().Interface(), depth+1)
	}
	mismatch := fmt.Errorf("cannot store %s in %s", src.Type(), dst.Type())
	switch k := dst.Kind(); {
	case k == reflect.Pointer:
		p := reflect.New(dst.Type().Elem())
		if err := assign(p.Elem(), v, depth+1); err != nil {
			return err
		}
		dst.Set(p)
	case k == reflect.Bool && src.Kind() == reflect.Bool:
		dst.SetBool(src.Bool())
	case k == reflect.String && src.Kind() == reflect.String:
		dst.SetString(src.String())
	case isInt(k) && isInt(src.Kind()):
		if dst.OverflowInt(src.Int()) {
			return fmt.Errorf("%d overflows %s", src.Int(), dst.Type())
		}
		dst.SetInt(src.Int())
	case isUint(k) && isInt(src.Kind()):
		if src.Int() < 0 || dst.OverflowUint(uint64(src.Int())) {
			return fmt.Errorf("%d overflows %s", src.Int(), dst.Type())
		}
		dst.SetUint(uint64(src.Int()))
	case (k == reflect.Float32 || k == reflect.Float64) && (src.Kind() == reflect.Float32 || src.Kind() == reflect.Float64):
		dst.SetFloat(src.Float())
	case (k == reflect.Float32 || k == reflect.Float64) && isInt(src.Kind()):
		dst.SetFloat(float64(src.Int()))
	case k == reflect.Slice && (src.Kind() == reflect.Slice || src.Kind() == reflect.Array):
		out := reflect.MakeSlice(dst.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			if err := assign(out.Index(i), src.Index(i).Interface(), depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		dst.Set(out)
	case k == reflect.Map && src.Kind() == reflect.Map:
		out := reflect.MakeMapWithSize(dst.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			key := reflect.New(dst.Type().Key()).Elem()
			if err := assign(key, it.Key().Interface(), depth+1); err != nil {
				return fmt.Errorf("map key: %w", err)
			}
			if !key.Comparable() {
				return fmt.Errorf("map key of type %s is not comparable", key.Type())
			}
			val := reflect.New(dst.Type().Elem()).Elem()
			if err := assign(val, it.Value().Interface(), depth+1); err != nil {
				return fmt.Errorf("map value: %w", err)
			}
			out.SetMapIndex(key, val)
		}
		dst.Set(out)
	default:
		return mismatch
	}
	return nil
}

func isInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Int64
}

func isUint(k reflect.Kind) bool {
	return k >= reflect.Uint && k <= reflect.Uintptr
}

// frame is one already encoded gRPC message.
type frame []byte

// hessianReply receives a non-IDL reply: the codec decodes into target.
type hessianReply struct{ target any }

// wrapperCodec is the gRPC codec of non-IDL calls. Its name gives the
// content-type application/grpc+proto that dubbo-go's client sends (see
// above); it sends a pre-encoded frame and decodes the response wrapper into
// a *hessianReply. It is used through grpc.ForceCodecV2 and not registered,
// so it does not replace grpc-go's proto codec.
type wrapperCodec struct{}

var _ encoding.CodecV2 = wrapperCodec{}

func (wrapperCodec) Name() string { return "proto" }

func (wrapperCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(frame)
	if !ok {
		return nil, fmt.Errorf("triple: wrapper codec cannot send %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(f)}, nil
}

func (wrapperCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*hessianReply)
	if !ok {
		return fmt.Errorf("triple: wrapper codec cannot receive into %T", v)
	}
	return decodeReply(data.Materialize(), r.target)
}
