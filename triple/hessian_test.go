package triple

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dubbomesh/dubbomesh/router"
)

// testUser is a POJO. Its class name differs from the one of
// provider_test.go: the two share dubbo-go-hessian2's registry.
type testUser struct {
	ID   string
	Name string
	Age  int32
}

func (testUser) JavaClassName() string { return "dubbomesh.test.User" }

func init() { hessian.RegisterPOJO(&testUser{}) }

// wireFields splits a protobuf message into its fields, in order, checking
// that each is length-delimited.
func wireFields(t *testing.T, b []byte) (nums []protowire.Number, vals [][]byte) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			t.Fatalf("field tag: n=%d type=%d", n, typ)
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		nums, vals = append(nums, num), append(vals, v)
	}
	return nums, vals
}

func hessianDecode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := hessian.NewDecoder(b).Decode()
	if err != nil {
		t.Fatalf("hessian decode: %v", err)
	}
	return v
}

// TestEncodeRequestLayout: the request wrapper has serializeType "hessian2"
// as field 1, one field 2 per argument holding that argument's own hessian2
// encoding (dubbo-go-hessian2 decodes it back), then one field 3 per
// argument with its Java type.
func TestEncodeRequestLayout(t *testing.T) {
	u := &testUser{ID: "42", Name: "ada", Age: 36}
	args := []any{u, "hello", int32(7), int64(1) << 40, []byte{1, 2}, []string{"a", "b"}, map[any]any{"k": "v"}, nil}
	b, err := encodeRequest(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	nums, vals := wireFields(t, b)
	wantNums := []protowire.Number{1}
	for range args {
		wantNums = append(wantNums, 2)
	}
	for range args {
		wantNums = append(wantNums, 3)
	}
	if diff := cmp.Diff(wantNums, nums); diff != "" {
		t.Fatalf("field numbers (-want +got):\n%s", diff)
	}
	if string(vals[0]) != "hessian2" {
		t.Errorf("serializeType = %q, want hessian2", vals[0])
	}
	var gotArgs []any
	for i := range args {
		gotArgs = append(gotArgs, hessianDecode(t, vals[1+i]))
	}
	wantArgs := []any{u, "hello", int32(7), int64(1) << 40, []byte{1, 2}, []any{"a", "b"}, map[any]any{"k": "v"}, nil}
	// dubbo-go-hessian2 decodes a typed string list as []string.
	if s, ok := gotArgs[5].([]string); ok {
		gotArgs[5] = []any{s[0], s[1]}
	}
	if diff := cmp.Diff(wantArgs, gotArgs); diff != "" {
		t.Errorf("decoded arguments (-want +got):\n%s", diff)
	}
	var gotTypes []string
	for _, v := range vals[1+len(args):] {
		gotTypes = append(gotTypes, string(v))
	}
	wantTypes := []string{"dubbomesh.test.User", "java.lang.String", "int", "long", "[B", "[Ljava.lang.String;", "java.util.Map", "java.lang.Object"}
	if diff := cmp.Diff(wantTypes, gotTypes); diff != "" {
		t.Errorf("argTypes (-want +got):\n%s", diff)
	}

	// Explicit types win; a count mismatch is refused.
	b, err = encodeRequest([]any{int64(1)}, []string{"java.lang.Long"})
	if err != nil {
		t.Fatal(err)
	}
	if _, vals := wireFields(t, b); string(vals[2]) != "java.lang.Long" {
		t.Errorf("explicit argType = %q", vals[2])
	}
	if _, err := encodeRequest([]any{1, 2}, []string{"long"}); !errors.Is(err, ErrUnsupportedPayload) {
		t.Errorf("type count mismatch: err = %v, want ErrUnsupportedPayload", err)
	}
}

// TestEncodeRequestNoArgs: a method without parameters sends the wrapper
// with its serializeType only, as dubbo-go's client does.
func TestEncodeRequestNoArgs(t *testing.T) {
	b, err := encodeRequest(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	nums, vals := wireFields(t, b)
	if len(nums) != 1 || nums[0] != 1 || string(vals[0]) != "hessian2" {
		t.Errorf("fields %v %q, want only serializeType", nums, vals)
	}
}

func TestEncodeRequestUnsupported(t *testing.T) {
	type notPOJO struct{ A int }
	for _, arg := range []any{make(chan int), func() {}, notPOJO{1}, wrapperspb.String("x")} {
		if _, err := encodeRequest([]any{"ok", arg}, nil); !errors.Is(err, ErrUnsupportedPayload) {
			t.Errorf("%T: err = %v, want ErrUnsupportedPayload", arg, err)
		}
	}
}

func TestPayloadUnsupported(t *testing.T) {
	var u testUser
	tests := []struct {
		name string
		call Call
	}{
		{"protobuf with a POJO", Call{Request: &u, Reply: &u}},
		{"hessian2 with a channel", Call{Serialization: SerializationHessian2, Args: []any{make(chan int)}, Reply: &u}},
		{"hessian2 reply not a pointer", Call{Serialization: SerializationHessian2, Args: []any{"x"}, Reply: u}},
		{"hessian2 nil pointer reply", Call{Serialization: SerializationHessian2, Args: []any{"x"}, Reply: (*testUser)(nil)}},
		{"msgpack", Call{Serialization: "msgpack", Args: []any{"x"}, Reply: &u}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No connection is made: the pool has no sidecar.
			err := NewPool(Target{Sidecar: "127.0.0.1:1"}).Invoke(t.Context(), &tt.call)
			kind, reason := router.Classify(err)
			if kind != router.FailureUnsupported || reason != "unsupported_payload" || !errors.Is(err, ErrUnsupportedPayload) {
				t.Errorf("Invoke = %v (%v %q), want unsupported, unsupported_payload", err, kind, reason)
			}
		})
	}
}

// responseWrapper builds a TripleResponseWrapper.
func responseWrapper(serialization string, data []byte, typ string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, serialization)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, data)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, typ)
	return b
}

func hessianEncode(t testing.TB, v any) []byte {
	t.Helper()
	e := hessian.NewEncoder()
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	return e.Buffer()
}

// TestDecodeReply: both reply shapes (a Java-style response wrapper and the
// request-wrapper shape a dubbo-go server sends) decode into the reply's
// Go type.
func TestDecodeReply(t *testing.T) {
	u := &testUser{ID: "1", Name: "ada", Age: 37}
	// What dubbo-go v3.3.2's server writes: its request wrapper of [result].
	dubbogoShape, err := encodeRequest([]any{u}, nil)
	if err != nil {
		t.Fatal(err)
	}
	when := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name  string
		wire  []byte
		reply any
		want  any
	}{
		{"dubbo-go shape POJO", dubbogoShape, new(testUser), u},
		{"response wrapper POJO", responseWrapper("hessian2", hessianEncode(t, u), "dubbomesh.test.User"), new(testUser), u},
		{"POJO into pointer", responseWrapper("hessian2", hessianEncode(t, u), ""), new(*testUser), &u},
		{"POJO into any", responseWrapper("hessian2", hessianEncode(t, u), ""), new(any), func() *any { var a any = u; return &a }()},
		{"string", responseWrapper("hessian2", hessianEncode(t, "hi"), "java.lang.String"), new(string), ptr("hi")},
		{"int32 into int", responseWrapper("hessian2", hessianEncode(t, int32(5)), "int"), new(int), ptr(5)},
		{"long into int64", responseWrapper("hessian2", hessianEncode(t, int64(math.MaxInt64)), "long"), new(int64), ptr(int64(math.MaxInt64))},
		{"double", responseWrapper("hessian2", hessianEncode(t, 2.5), "double"), new(float64), ptr(2.5)},
		{"bool", responseWrapper("hessian2", hessianEncode(t, true), "boolean"), new(bool), ptr(true)},
		{"date", responseWrapper("hessian2", hessianEncode(t, when), "java.util.Date"), new(time.Time), ptr(when)},
		{"list of strings", responseWrapper("hessian2", hessianEncode(t, []any{"a", "b"}), ""), new([]string), ptr([]string{"a", "b"})},
		{"list of POJOs", responseWrapper("hessian2", hessianEncode(t, []any{u, u}), ""), new([]testUser), ptr([]testUser{*u, *u})},
		{"map", responseWrapper("hessian2", hessianEncode(t, map[any]any{"a": int32(1)}), ""), new(map[string]int32), ptr(map[string]int32{"a": 1})},
		{"null", responseWrapper("hessian2", hessianEncode(t, nil), "V"), &testUser{ID: "stale"}, &testUser{}},
		{"void (empty data)", responseWrapper("hessian2", nil, ""), &testUser{ID: "stale"}, &testUser{}},
		{"empty message", nil, &testUser{ID: "stale"}, &testUser{}},
		{"unknown field skipped", append(protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1), responseWrapper("hessian2", hessianEncode(t, "x"), "")...), new(string), ptr("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := decodeReply(tt.wire, tt.reply); err != nil {
				t.Fatalf("decodeReply: %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.reply); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDecodeReplyErrors(t *testing.T) {
	good := hessianEncode(t, "x")
	tests := []struct {
		name  string
		wire  []byte
		reply any
	}{
		{"truncated", responseWrapper("hessian2", good, "")[:5], new(string)},
		{"wrong wire type", protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1), new(string)},
		{"other serialization", responseWrapper("fastjson", good, ""), new(string)},
		{"bad hessian2", responseWrapper("hessian2", []byte{0xff, 0x00}, ""), new(string)},
		{"type mismatch", responseWrapper("hessian2", good, ""), new(int)},
		{"overflow", responseWrapper("hessian2", hessianEncode(t, int64(1)<<40), ""), new(int32)},
		{"negative into uint", responseWrapper("hessian2", hessianEncode(t, int32(-1)), ""), new(uint)},
		{"unregistered class into struct", responseWrapper("hessian2", []byte("C\x0bunknown.Cls\x91\x01aO\x90\x05hello"), ""), new(testUser)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := decodeReply(tt.wire, tt.reply); !errors.Is(err, ErrMalformedReply) {
				t.Errorf("decodeReply = %v, want ErrMalformedReply", err)
			}
		})
	}
}

func TestJavaType(t *testing.T) {
	i32, s := int32(1), "s"
	tests := []struct {
		v    any
		want string
	}{
		{nil, "java.lang.Object"},
		{true, "boolean"},
		{int8(1), "byte"},
		{int16(1), "short"},
		{uint16(1), "char"},
		{int32(1), "int"},
		{1, "long"},
		{int64(1), "long"},
		{float32(1), "float"},
		{1.0, "double"},
		{"s", "java.lang.String"},
		{&i32, "java.lang.Integer"},
		{&s, "java.lang.String"},
		{time.Time{}, "java.util.Date"},
		{[]byte{1}, "[B"},
		{[]int32{1}, "[I"},
		{[]int64{1}, "[J"},
		{[]float64{1}, "[D"},
		{[]bool{true}, "[Z"},
		{[]string{"a"}, "[Ljava.lang.String;"},
		{[]time.Time{}, "[Ljava.util.Date;"},
		{[]hessian.Object{}, "[Ljava.lang.Object;"},
		{[]*testUser{}, "[Ljava.lang.Object;"},
		{[]any{}, "java.util.List"},
		{map[any]any{}, "java.util.Map"},
		{map[string]int{}, "java.util.Map"},
		{testUser{}, "dubbomesh.test.User"},
		{&testUser{}, "dubbomesh.test.User"},
		{struct{ A int }{}, "java.lang.Object"},
	}
	for _, tt := range tests {
		if got := JavaType(tt.v); got != tt.want {
			t.Errorf("JavaType(%T) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// FuzzDecodeReply: no reply bytes from the wire make the decoder panic,
// whatever the reply type.
func FuzzDecodeReply(f *testing.F) {
	u := &testUser{ID: "1", Name: "ada", Age: 37}
	if b, err := encodeRequest([]any{u}, nil); err == nil {
		f.Add(b)
	}
	for _, v := range []any{u, "x", int32(1), int64(2), 2.5, true, []any{"a", u}, map[any]any{"k": u}, time.UnixMilli(0), nil} {
		f.Add(responseWrapper("hessian2", hessianEncode(f, v), JavaType(v)))
	}
	f.Add([]byte{})
	f.Add([]byte{0x12, 0x02, 'N'})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, reply := range []any{new(testUser), new(*testUser), new(string), new(int32), new(uint8), new([]testUser), new(map[string]*testUser), new(any), nil} {
			err := decodeReply(b, reply)
			if err != nil && !errors.Is(err, ErrMalformedReply) {
				t.Fatalf("decodeReply(%T) = %v, want nil or ErrMalformedReply", reply, err)
			}
			if reply != nil && reflect.ValueOf(reply).IsNil() {
				t.Fatal("reply pointer was cleared")
			}
		}
	})
}

// goldenUser has examples/provider's User class name. It is not registered:
// encoding a POJO needs no registration.
type goldenUser struct {
	ID   string
	Name string
	Age  int32
}

func (goldenUser) JavaClassName() string { return "dubbomesh.examples.User" }

// TestEncodeRequestGolden: the request of GetUser(User{ID: "1", Name:
// "ada"}, "hello") is byte for byte what dubbo-go v3.3.2's own Triple
// client (client.Dial with WithIDL(NONIDL) and WithSerialization(hessian2);
// DialWithInfo selects the same client)
// sent, as captured from the wire with content-type application/grpc+proto.
func TestEncodeRequestGolden(t *testing.T) {
	const captured = "\n\bhessian2\x12.C\x17dubbomesh.examples.User\x93\x02iD\x04name\x03age`\x011\x03ada\x90\x12\x06\x05hello\x1a\x17dubbomesh.examples.User\x1a\x10java.lang.String"
	got, err := encodeRequest([]any{&goldenUser{ID: "1", Name: "ada"}, "hello"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != captured {
		t.Errorf("request\n got %q\nwant %q", got, captured)
	}
}
