package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	hessian "github.com/apache/dubbo-go-hessian2"
)

// userService is examples/provider's non-IDL (hessian2) service.
const userService = "dubbomesh.examples.UserService"

// User is examples/provider's User POJO, declared again as a consumer of a
// non-IDL service does: same fields, same Java class name.
type User struct {
	ID   string
	Name string
	Age  int32
}

// JavaClassName implements hessian.POJO.
func (User) JavaClassName() string { return "dubbomesh.examples.User" }

// dialUser returns a call of UserService.GetUser(User{arg, "ada", 41},
// "hello") that checks the answer and returns the provider that gave it.
func dialUser(cli *client.Client, c config) (func(context.Context, string) (string, error), error) {
	hessian.RegisterPOJO(&User{})
	// A ClientInfo selects dubbo-go's current Triple client; with a plain
	// Dial, dubbo-go v3.3.2 falls back to its legacy "dubbo3" client, which
	// sends application/grpc+hessian2 and drops the arguments of this call
	// (the provider answers "expected 2 params, got 0 args").
	opts := []client.ReferenceOption{client.WithSerialization(constant.Hessian2Serialization),
		client.WithVersion(c.version), client.WithRequestTimeout(3 * time.Second)}
	if c.protocol != "" {
		opts = append(opts, client.WithProtocol(c.protocol))
	}
	conn, err := cli.DialWithInfo(userService, &client.ClientInfo{
		InterfaceName: userService,
		MethodNames:   []string{"GetUser"},
	}, opts...)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, _ string) (string, error) {
		var got User
		if err := conn.CallUnary(ctx, []any{&User{ID: c.arg, Name: "ada", Age: 41}, "hello"}, &got, "GetUser"); err != nil {
			return "", err
		}
		rest, ok := strings.CutPrefix(got.Name, "hello ada from ")
		if got.ID != c.arg || got.Age != 42 || !ok {
			return "", fmt.Errorf("GetUser answered %+v, want ID %q, Age 42 and a name starting with %q", got, c.arg, "hello ada from ")
		}
		from, _, _ := strings.Cut(rest, " ")
		return from, nil
	}, nil
}
