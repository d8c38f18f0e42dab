package sw8

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HeaderName is the SkyWalking cross-process propagation header (protocol
// v3).
const HeaderName = "sw8"

// MaxLen is the longest sw8 value accepted: SkyWalking's agents refuse 2 KiB
// and more by default.
const MaxLen = 2047

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("sw8: invalid header")

// Header is one sw8 value (SkyWalking Cross Process Propagation Headers
// Protocol v3): eight fields split by '-', the strings base64-encoded.
type Header struct {
	Sampled bool // field 1: "1" sampled, "0" the context exists but may be ignored
	// TraceID is field 2: a globally unique literal string (the Java agent
	// writes "{32 hex}.{thread}.{time+seq}").
	TraceID string
	// SegmentID is field 3: the parent trace segment, globally unique.
	SegmentID string
	// SpanID is field 4: the parent span in the parent segment, from 0.
	SpanID int32
	// ParentService, ParentInstance and ParentEndpoint are fields 5 to 7:
	// the calling service, its instance and the operation name of the
	// first entry span of the parent segment.
	ParentService, ParentInstance, ParentEndpoint string
	// Peer is field 8: the address the client used to reach the target.
	Peer string
}

// Parse reads an sw8 value. Every field must be present (eight fields),
// the sample flag 0 or 1, the strings standard base64, the trace and
// segment ids not empty and the span id an integer from 0 to 2^31-1.
// SkyWalking's agents drop a context whose other strings are empty; Parse
// keeps them, since the trace id alone is what the mapping needs.
func Parse(v string) (Header, error) {
	var h Header
	if len(v) > MaxLen {
		return h, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalid, len(v), MaxLen)
	}
	f := strings.Split(v, "-")
	if len(f) != 8 {
		return h, fmt.Errorf("%w: %d fields, want 8 split by '-'", ErrInvalid, len(f))
	}
	switch f[0] {
	case "1":
		h.Sampled = true
	case "0":
	default:
		return h, fmt.Errorf("%w: sample flag %q, want 0 or 1", ErrInvalid, f[0])
	}
	n, err := strconv.ParseInt(f[3], 10, 32)
	if err != nil || n < 0 || f[3] != strconv.FormatInt(n, 10) {
		return h, fmt.Errorf("%w: parent span id %q, want an integer from 0", ErrInvalid, f[3])
	}
	h.SpanID = int32(n)
	names := [...]string{1: "trace id", 2: "segment id", 4: "parent service", 5: "parent instance", 6: "parent endpoint", 7: "peer"}
	dst := [...]*string{1: &h.TraceID, 2: &h.SegmentID, 4: &h.ParentService, 5: &h.ParentInstance, 6: &h.ParentEndpoint, 7: &h.Peer}
	for i, p := range dst {
		if p == nil {
			continue
		}
		b, err := base64.StdEncoding.Strict().DecodeString(f[i])
		if err != nil {
			return Header{}, fmt.Errorf("%w: %s: not base64: %w", ErrInvalid, names[i], err)
		}
		*p = string(b)
	}
	if h.TraceID == "" || h.SegmentID == "" {
		return Header{}, fmt.Errorf("%w: empty trace or segment id", ErrInvalid)
	}
	return h, nil
}

// String renders h as an sw8 value.
func (h Header) String() string {
	enc := base64.StdEncoding.EncodeToString
	sample := "0"
	if h.Sampled {
		sample = "1"
	}
	return strings.Join([]string{sample, enc([]byte(h.TraceID)), enc([]byte(h.SegmentID)),
		strconv.FormatInt(int64(h.SpanID), 10), enc([]byte(h.ParentService)), enc([]byte(h.ParentInstance)),
		enc([]byte(h.ParentEndpoint)), enc([]byte(h.Peer))}, "-")
}
