package metadata

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java_exception"
)

// TestCheckHessianAccepts: everything the hessian2 encoder writes passes
// the scanner, and the scanner consumes it exactly.
func TestCheckHessianAccepts(t *testing.T) {
	values := []any{
		nil, true, false,
		int32(0), int32(-16), int32(47), int32(-2048), int32(2047), int32(-262144), int32(262143), int32(math.MinInt32), int32(math.MaxInt32),
		int64(0), int64(-8), int64(15), int64(-2048), int64(2047), int64(-262144), int64(262143),
		int64(math.MinInt32), int64(math.MaxInt32), int64(math.MinInt64), int64(math.MaxInt64),
		0.0, 1.0, 127.0, -128.0, 32767.0, 12.25, 1e300, math.Inf(-1),
		time.UnixMilli(1795564333999), time.Unix(1795564320, 0),
		"", "a", strings.Repeat("x", 31), strings.Repeat("x", 32), strings.Repeat("é", 1023), strings.Repeat("€", 1024),
		"snow ☃ and 😀 emoji", strings.Repeat("long😀", 20000), // chunked, with surrogate pairs
		[]byte{}, []byte("0123456789abcde"), bytes.Repeat([]byte{7}, 1023), bytes.Repeat([]byte{7}, 70000),
		[]any{}, []any{int32(1), "two", nil}, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"},
		[]int32{1, 2, 3}, map[string]string{"k": "v", "methods": "Greet,greet"},
		map[any]any{int32(1): []any{map[string]any{"x": 1.5}}},
		testMetadata("rev"), []any{testMetadata("a"), testMetadata("b")}, // class definitions and references
		java_exception.NewThrowable("boom"),
		java_exception.NewNullPointerException("npe"),
	}
	for _, v := range values {
		enc := hessian.NewEncoder()
		if err := enc.Encode(v); err != nil {
			t.Logf("skipping %T: the encoder refuses it: %v", v, err)
			continue
		}
		b := enc.Buffer()
		if err := checkHessian(b); err != nil {
			t.Errorf("checkHessian(%T of %d bytes) = %v\nstarts with % x", v, len(b), err, b[:min(len(b), 64)])
		}
	}
	// A sequence of values, as in a response body.
	enc := hessian.NewEncoder()
	for _, v := range values[:40] {
		_ = enc.Encode(v)
	}
	if err := checkHessian(enc.Buffer()); err != nil {
		t.Errorf("checkHessian(sequence) = %v", err)
	}
}

func TestCheckHessianRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"deep untyped lists", bytes.Repeat([]byte{'W'}, 1<<20)},
		{"deep maps", bytes.Repeat([]byte{'H', 'N'}, 1<<20)},
		{"chained class definitions", bytes.Repeat([]byte{'C', 0x00, 0x90}, 1<<18)},
		{"huge class definition", []byte{'C', 0x01, 'A', 'I', 0x7f, 0xff, 0xff, 0xff}},
		{"huge list", []byte{'X', 'I', 0x7f, 0xff, 0xff, 0xff, 'N'}},
		{"negative list length", []byte{'X', 'I', 0xff, 0xff, 0xff, 0xff}},
		{"huge typed list", []byte{'V', 0x01, 'A', 'L', 0, 0, 0, 1, 0, 0, 0, 0}},
		{"object without definition", []byte{0x60}},
		{"object index out of range", []byte{'C', 0x01, 'A', 0x90, 0x61}},
		{"truncated string", []byte{0x05, 'a', 'b'}},
		{"truncated long", []byte{'L', 1, 2}},
		{"bad UTF-8", []byte{0x01, 0xff}},
		{"unterminated list", []byte{'W', 'N', 'N'}},
		{"bad string chunk", []byte{'R', 0x00, 0x01, 'a', 'N'}},
		{"bad binary chunk", []byte{'A', 0x00, 0x01, 'a', 'N'}},
		{"unknown tag", []byte{0x40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkHessian(tc.b); err == nil {
				t.Fatalf("checkHessian accepted % x", tc.b[:min(len(tc.b), 32)])
			}
		})
	}
}

// TestDecodeResponseDeepNesting: a body the library would recurse on
// until the stack limit (a fatal error) is rejected.
func TestDecodeResponseDeepNesting(t *testing.T) {
	body := append([]byte{0x91}, bytes.Repeat([]byte{'W'}, 4<<20)...) // RESPONSE_VALUE, nested lists
	_, err := decodeResponse(frameHeader{Flags: serialHessian2, Status: hessian.Response_OK, ID: 1, BodyLen: len(body)}, body)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("decodeResponse = %v, want ErrMalformed", err)
	}
}
