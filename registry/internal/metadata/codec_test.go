package metadata

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java_exception"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testMetadata is a MetadataInfo like the one examples/provider serves.
func testMetadata(rev string) *info.MetadataInfo {
	return &info.MetadataInfo{
		App:      "app",
		Revision: rev,
		Services: map[string]*info.ServiceInfo{
			"g1/a.B:1.0.0:tri": {
				Name: "a.B", Group: "g1", Version: "1.0.0", Protocol: "tri", Port: 20000, Path: "a.B",
				Params: map[string]string{"methods": "Greet,greet", "weight": "50"},
			},
		},
	}
}

// cmpMetadata compares the exported, serialized fields of MetadataInfo.
var cmpMetadata = cmp.Options{
	cmpopts.IgnoreUnexported(info.MetadataInfo{}),
	cmpopts.IgnoreFields(info.ServiceInfo{}, "ServiceKey", "MatchKey", "URL"),
	cmpopts.EquateEmpty(),
}

// responsePacket encodes a response the way a Dubbo2 provider does, with
// dubbo-go-hessian2's own packet codec (independent of the decoder under
// test). withAttachments selects the Dubbo ≥ 2.0.2 response types.
func responsePacket(t testing.TB, id int64, status byte, body any, withAttachments bool) []byte {
	t.Helper()
	hdr := hessian.DubboHeader{SerialID: serialHessian2, Type: hessian.PackageResponse, ID: id, ResponseStatus: status}
	var atta map[string]string
	if withAttachments {
		atta = map[string]string{"dubbo": "2.0.2"}
	}
	var rsp *hessian.Response
	if err, ok := body.(error); ok {
		rsp = hessian.NewResponse(nil, err, atta)
	} else {
		rsp = hessian.NewResponse(body, nil, atta)
	}
	pkt, err := hessian.NewHessianCodec(nil).Write(hessian.Service{}, hdr, rsp)
	if err != nil {
		t.Fatalf("encode response: %v", err)
	}
	return pkt
}

// heartbeatPacket is a heartbeat request as a provider may send it.
func heartbeatPacket(t testing.TB, id int64) []byte {
	t.Helper()
	hdr := hessian.DubboHeader{SerialID: serialHessian2, Type: hessian.PackageHeartbeat, ID: id}
	pkt, err := hessian.NewHessianCodec(nil).Write(hessian.Service{}, hdr, hessian.NewRequest([]any{}, nil))
	if err != nil {
		t.Fatalf("encode heartbeat: %v", err)
	}
	return pkt
}

func TestReadResponse(t *testing.T) {
	rev := "r1"
	want := testMetadata(rev)
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	cat := func(pkts ...[]byte) []byte { return bytes.Join(pkts, nil) }
	for _, tc := range []struct {
		name    string
		stream  []byte
		wantErr error
	}{
		{"object", responsePacket(t, 1, hessian.Response_OK, want, false), nil},
		{"object with attachments", responsePacket(t, 1, hessian.Response_OK, want, true), nil},
		{"JSON string (old Java)", responsePacket(t, 1, hessian.Response_OK, string(js), true), nil},
		{"after heartbeat and stray response",
			cat(heartbeatPacket(t, 7), responsePacket(t, 2, hessian.Response_OK, "junk", true),
				responsePacket(t, 1, hessian.Response_OK, want, true)), nil},
		{"null", responsePacket(t, 1, hessian.Response_OK, nil, true), ErrNotFound},
		{"null without attachments", responsePacket(t, 1, hessian.Response_OK, nil, false), ErrNotFound},
		{"empty string", responsePacket(t, 1, hessian.Response_OK, "", true), ErrNotFound},
		{"bad JSON string", responsePacket(t, 1, hessian.Response_OK, "{", true), ErrMalformed},
		{"unexpected type", responsePacket(t, 1, hessian.Response_OK, int32(3), true), ErrMalformed},
		{"exception", responsePacket(t, 1, hessian.Response_OK, java_exception.NewThrowable("boom"), true), ErrRemote},
		{"exception without attachments", responsePacket(t, 1, hessian.Response_OK, errors.New("boom"), false), ErrRemote},
		{"error status", responsePacket(t, 1, hessian.Response_SERVICE_NOT_FOUND, errors.New("no service"), false), ErrRemote},
		{"bad magic", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), ErrMalformed},
		{"truncated header", responsePacket(t, 1, hessian.Response_OK, want, true)[:10], io.ErrUnexpectedEOF},
		{"truncated body", dropLast(responsePacket(t, 1, hessian.Response_OK, want, true)), io.ErrUnexpectedEOF},
		{"empty", nil, io.EOF},
		{"body too large", withBodyLen(responsePacket(t, 1, hessian.Response_OK, want, true), maxBodyLen+1), ErrMalformed},
		{"empty body", withBodyLen(responsePacket(t, 1, hessian.Response_OK, want, true)[:headerLen], 0), ErrMalformed},
		{"other serialization", withSerial(responsePacket(t, 1, hessian.Response_OK, want, true), 6), ErrMalformed},
		{"only heartbeats", bytes.Repeat(heartbeatPacket(t, 9), maxSkippedFrames+2), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readResponse(bytes.NewReader(tc.stream), 1)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("readResponse = %v, %v; want error %v", got, err, tc.wantErr)
				}
				if errors.Is(tc.wantErr, io.EOF) || errors.Is(tc.wantErr, io.ErrUnexpectedEOF) {
					return
				}
				if !strings.HasPrefix(err.Error(), "metadata: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				t.Logf("%v", err)
				return
			}
			if err != nil {
				t.Fatalf("readResponse: %v", err)
			}
			if d := cmp.Diff(want, got, cmpMetadata); d != "" {
				t.Errorf("MetadataInfo (-want +got):\n%s", d)
			}
		})
	}
}

func dropLast(b []byte) []byte { return b[:len(b)-1] }

func withBodyLen(b []byte, n uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[12:16], n)
	return b
}

func withSerial(b []byte, id byte) []byte {
	b = bytes.Clone(b)
	b[2] = b[2]&^hessian.SERIAL_MASK | id
	return b
}

// TestRequestWireFormat decodes the request with dubbo-go-hessian2's packet
// codec (as a Dubbo2 server does) and checks what dubbo-go's MetadataService
// exporter and Java Dubbo rely on.
func TestRequestWireFormat(t *testing.T) {
	pkt, err := encodeRequest(request{
		ID: 42, Interface: ServiceInterface, Group: "app", Version: "1.0.0",
		Token: "secret", Timeout: 1500 * time.Millisecond, Revision: "rev",
	})
	if err != nil {
		t.Fatal(err)
	}
	if pkt[2] != hessian.FLAG_REQUEST|hessian.FLAG_TWOWAY|serialHessian2 {
		t.Errorf("flags = %#x, want two-way request with hessian2", pkt[2])
	}
	codec := hessian.NewHessianCodec(bufio.NewReaderSize(bytes.NewReader(pkt), len(pkt)))
	var hdr hessian.DubboHeader
	if err := codec.ReadHeader(&hdr); err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if hdr.ID != 42 || hdr.SerialID != serialHessian2 || hdr.Type != hessian.PackageRequest|hessian.PackageRequest_TwoWay {
		t.Errorf("header = %+v", hdr)
	}
	body := make([]any, 7)
	if err := codec.ReadBody(body); err != nil {
		t.Fatalf("ReadBody: %v", err)
	}
	got := map[string]any{
		"dubbo": body[0], "path": body[1], "version": body[2], "method": body[3],
		"types": body[4], "args": body[5], "attachments": body[6],
	}
	want := map[string]any{
		"dubbo": "2.0.2", "path": ServiceInterface, "version": "1.0.0", "method": "getMetadataInfo",
		"types": "Ljava/lang/String;", "args": []any{"rev"},
		"attachments": map[string]string{
			"dubbo": "2.0.2", "path": ServiceInterface, "interface": ServiceInterface,
			"group": "app", "version": "1.0.0", "timeout": "1500", "token": "secret",
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
}

// fakeProvider serves one canned reply per connection after reading a
// request, and reports the decoded requests.
func fakeProvider(t *testing.T, reply func(id int64) []byte) (port int, requests <-chan []any) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reqs := make(chan []any, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(testWait))
				r := bufio.NewReaderSize(c, 64<<10)
				if _, err := r.Peek(headerLen); err != nil {
					return
				}
				n := int(binary.BigEndian.Uint32(must(r.Peek(headerLen))[12:]))
				if _, err := r.Peek(headerLen + n); err != nil {
					return
				}
				codec := hessian.NewHessianCodec(r)
				var hdr hessian.DubboHeader
				if err := codec.ReadHeader(&hdr); err != nil {
					t.Errorf("fake provider: ReadHeader: %v", err)
					return
				}
				body := make([]any, 7)
				if err := codec.ReadBody(body); err != nil {
					t.Errorf("fake provider: ReadBody: %v", err)
					return
				}
				reqs <- body
				_, _ = c.Write(reply(hdr.ID))
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().(*net.TCPAddr).Port, reqs
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFetchJSONStringReply: an old Java provider answers a JSON string.
func TestFetchJSONStringReply(t *testing.T) {
	want := testMetadata("rev-json")
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	port, reqs := fakeProvider(t, func(id int64) []byte {
		return responsePacket(t, id, hessian.Response_OK, string(js), true)
	})
	ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
	defer cancel()
	got, err := Fetch(ctx, "127.0.0.1", "app", "rev-json", dubboParams(port))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if d := cmp.Diff(want, got, cmpMetadata); d != "" {
		t.Errorf("MetadataInfo (-want +got):\n%s", d)
	}
	req := <-reqs
	if req[3] != "getMetadataInfo" || !cmp.Equal(req[5], []any{"rev-json"}) {
		t.Errorf("request = %v", req)
	}
	atta := req[6].(map[string]string)
	if atta["group"] != "app" || atta["interface"] != ServiceInterface || atta["version"] != "1.0.0" {
		t.Errorf("attachments = %v", atta)
	}
}

// TestFetchRevisionMismatch: a reply for another revision is rejected.
func TestFetchRevisionMismatch(t *testing.T) {
	port, _ := fakeProvider(t, func(id int64) []byte {
		return responsePacket(t, id, hessian.Response_OK, testMetadata("other"), true)
	})
	ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
	defer cancel()
	_, err := Fetch(ctx, "127.0.0.1", "app", "asked", dubboParams(port))
	if !errors.Is(err, ErrRevisionMismatch) {
		t.Fatalf("Fetch = %v, want ErrRevisionMismatch", err)
	}
}

// FuzzReadResponse feeds arbitrary bytes as the provider's reply: the
// decoder must return a MetadataInfo or an error, never panic or hang.
func FuzzReadResponse(f *testing.F) {
	mi := testMetadata("r")
	js, _ := json.Marshal(mi)
	for _, seed := range [][]byte{
		responsePacket(f, 1, hessian.Response_OK, mi, true),
		responsePacket(f, 1, hessian.Response_OK, mi, false),
		responsePacket(f, 1, hessian.Response_OK, string(js), true),
		responsePacket(f, 1, hessian.Response_OK, nil, true),
		responsePacket(f, 1, hessian.Response_OK, java_exception.NewThrowable("boom"), true),
		responsePacket(f, 1, hessian.Response_BAD_REQUEST, errors.New("bad"), false),
		heartbeatPacket(f, 3),
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := readResponse(bytes.NewReader(data), 1)
		if (mi == nil) == (err == nil) {
			t.Fatalf("readResponse = %v, %v: want exactly one of them", mi, err)
		}
	})
}
