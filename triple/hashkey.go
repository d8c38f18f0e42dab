package triple

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// DefaultHashArguments is Dubbo's default hash.arguments: the first
// argument.
const DefaultHashArguments = "0"

// maxHashKeyLen bounds a hash key sent as is; longer keys are sent as
// their digest.
const maxHashKeyLen = 256

// hashArgumentsSep splits hash.arguments as dubbo-go does
// (constant.CommaSplitPattern).
var hashArgumentsSep = regexp.MustCompile(`\s*[,]+\s*`)

// ParseHashArguments reads Dubbo's hash.arguments parameter: argument
// indices separated by commas ("0", "0,2").
func ParseHashArguments(s string) ([]int, error) {
	var out []int
	for _, p := range hashArgumentsSep.Split(strings.TrimSpace(s), -1) {
		i, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("triple: hash.arguments %q: %q is not an argument index", s, p)
		}
		out = append(out, i)
	}
	return out, nil
}

// HashKey is the consistent-hashing key of a call with args, as Dubbo's
// ConsistentHashLoadBalance builds it: the arguments at indices
// (hash.arguments) concatenated, indices out of range ignored, strings as
// they are and other values as fmt.Fprint writes them. A protobuf
// argument's text form is unstable by design (it differs between builds),
// so a wrapper message (StringValue, Int64Value, ...) stands for its value
// and any other message for the base64 of its deterministic encoding.
//
// The result is sent as the naming.HeaderHashKey header: a key that is not
// printable ASCII or is longer than 256 bytes is sent as "sha256:" and its
// hex digest, so that every key is a valid header value.
func HashKey(args []any, indices []int) string {
	var b strings.Builder
	for _, i := range indices {
		if i < 0 || i >= len(args) {
			continue
		}
		switch v := args[i].(type) {
		case string:
			b.WriteString(v)
		case proto.Message:
			writeMessage(&b, v)
		default:
			_, _ = fmt.Fprint(&b, v)
		}
	}
	key := b.String()
	if len(key) > maxHashKeyLen || !printable(key) {
		sum := sha256.Sum256([]byte(key))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

func writeMessage(b *strings.Builder, m proto.Message) {
	switch v := m.(type) {
	case *wrapperspb.StringValue:
		b.WriteString(v.GetValue())
	case *wrapperspb.Int64Value:
		b.WriteString(strconv.FormatInt(v.GetValue(), 10))
	case *wrapperspb.Int32Value:
		b.WriteString(strconv.FormatInt(int64(v.GetValue()), 10))
	case *wrapperspb.UInt64Value:
		b.WriteString(strconv.FormatUint(v.GetValue(), 10))
	case *wrapperspb.UInt32Value:
		b.WriteString(strconv.FormatUint(uint64(v.GetValue()), 10))
	case *wrapperspb.BoolValue:
		b.WriteString(strconv.FormatBool(v.GetValue()))
	case *wrapperspb.BytesValue:
		b.Write(v.GetValue())
	case *wrapperspb.DoubleValue:
		_, _ = fmt.Fprint(b, v.GetValue())
	case *wrapperspb.FloatValue:
		_, _ = fmt.Fprint(b, v.GetValue())
	default:
		enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			_, _ = fmt.Fprintf(b, "%T", m) // an invalid message: one key for its type
			return
		}
		b.WriteString(base64.RawStdEncoding.EncodeToString(enc))
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
