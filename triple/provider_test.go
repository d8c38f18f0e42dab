package triple_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"
)

// user is examples/provider's User POJO as a consumer declares it.
type user struct {
	ID   string
	Name string
	Age  int32
}

func (user) JavaClassName() string { return "dubbomesh.examples.User" }

func init() { hessian.RegisterPOJO(&user{}) }

const userInterface = "dubbomesh.examples.UserService"

// TestHessian2AgainstProvider: non-IDL calls encoded by this package are
// served by a real dubbo-go v3.3.2 provider (examples/provider's
// UserService, serialization hessian2), every argument arrives, the reply
// decodes, and the provider's own errors are classified as its answer.
func TestHessian2AgainstProvider(t *testing.T) {
	zk := testenv.StartZooKeeper(t)
	p := testenv.StartProvider(t, testenv.ProviderConfig{Registry: "zookeeper://" + zk.Addr(), Application: "hessian-test", Version: "1.0.0", UserService: true})
	// Straight to the provider: it plays the sidecar's part.
	pool := triple.NewPool(triple.Target{Sidecar: "127.0.0.1:" + strconv.Itoa(p.Port())})
	t.Cleanup(func() { _ = pool.Close() })
	call := func(method, version string, args []any, reply any) error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return pool.Invoke(ctx, &triple.Call{
			Host: "dubbomesh.examples.userservice.dubbo", Interface: userInterface, Method: method,
			Version: version, Serialization: triple.SerializationHessian2, Args: args, Reply: reply,
		})
	}

	for i := range 20 {
		var got user
		in := &user{ID: strconv.Itoa(i), Name: "ada", Age: int32(i)}
		if err := call("GetUser", "1.0.0", []any{in, "hello"}, &got); err != nil {
			t.Fatalf("GetUser #%d: %v", i, err)
		}
		want := user{ID: in.ID, Name: fmt.Sprintf("hello ada from hessian-test@%d v1.0.0", p.Port()), Age: in.Age + 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("GetUser #%d (-want +got):\n%s", i, diff)
		}
	}

	// Into a pointer reply as well.
	var gotPtr *user
	if err := call("GetUser", "1.0.0", []any{&user{ID: "p"}, "hi"}, &gotPtr); err != nil || gotPtr == nil || gotPtr.ID != "p" {
		t.Fatalf("GetUser into **user = %+v, %v", gotPtr, err)
	}

	// A null result zeroes the reply.
	stale := user{ID: "stale"}
	if err := call("GetUser", "1.0.0", []any{&user{ID: "nobody"}, "hi"}, &stale); err != nil || stale != (user{}) {
		t.Fatalf("GetUser(nobody) = %+v, %v; want a zero user", stale, err)
	}

	for _, tt := range []struct {
		name, method, version string
		args                  []any
		wantKind              router.Failure
		wantMsg               string
	}{
		{"provider error", "GetUser", "1.0.0", []any{&user{}, "hello"}, router.FailureApplication, "user: empty id"},
		// dubbo-go answers an unknown path with HTTP 404 before running
		// anything, as Envoy does for no route.
		{"unknown method", "NoSuchMethod", "1.0.0", []any{"x"}, router.FailureNotSent, "404"},
		{"wrong version", "GetUser", "9.9.9", []any{&user{ID: "1"}, "hello"}, router.FailureApplication, "no implementation found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got user
			err := call(tt.method, tt.version, tt.args, &got)
			kind, reason := router.Classify(err)
			t.Logf("%v (%v %s)", err, kind, reason)
			if kind != tt.wantKind {
				t.Errorf("classified %v %q, want %v", kind, reason, tt.wantKind)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %v, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}
