package router_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/dubbomesh/dubbomesh/router"
)

// A call in mesh mode whose sidecar refuses the connection: the request
// provably never left, so the router retries it on the direct path.
func ExampleRouter_Call() {
	r, err := router.New(router.Config{Default: router.Service{Mode: router.ModeMesh}})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = r.Call(context.Background(), "org.example.Greeter", "Greet",
		func(context.Context) error {
			fmt.Println("mesh: connection refused")
			return router.NotSent("sidecar_unreachable", errors.New("connection refused"))
		},
		func(context.Context) error {
			fmt.Println("direct: answered")
			return nil
		})
	fmt.Println("error:", err)
	// Output:
	// mesh: connection refused
	// direct: answered
	// error: <nil>
}

// The mesh transport's errors say what happened to the request through
// router.MeshError; Classify reads them.
func ExampleClassify() {
	for _, err := range []error{
		router.NotSent("refused_stream", errors.New("REFUSED_STREAM")),
		router.MeshFailed("unavailable", errors.New("connection reset")),
		router.Application(errors.New("user not found")),
		errors.New("something else"),
	} {
		kind, reason := router.Classify(err)
		fmt.Println(kind == router.FailureNotSent, reason)
	}
	// Output:
	// true refused_stream
	// false unavailable
	// false application
	// false unclassified
}
