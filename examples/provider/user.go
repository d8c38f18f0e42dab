package main

import (
	"context"
	"errors"
	"fmt"

	hessian "github.com/apache/dubbo-go-hessian2"
)

// UserInterface is the Dubbo interface of the non-IDL UserService: plain Go
// structs serialised with hessian2 over Triple, no .proto file.
const UserInterface = "dubbomesh.examples.UserService"

// UserClass is the Java class name of User on the wire.
const UserClass = "dubbomesh.examples.User"

// User is the hessian2 POJO UserService takes and returns. A consumer
// declares the same struct with the same JavaClassName and registers it
// with hessian.RegisterPOJO.
type User struct {
	ID   string
	Name string
	Age  int32
}

// JavaClassName implements hessian.POJO.
func (User) JavaClassName() string { return UserClass }

// registerUserPOJO registers User with dubbo-go-hessian2, so that a User
// argument decodes into a *User.
func registerUserPOJO() { hessian.RegisterPOJO(&User{}) }

// UserService is a non-IDL dubbo-go service: its exported methods, found by
// reflection, are its Triple methods (path /dubbomesh.examples.UserService/GetUser).
type UserService struct {
	app     string
	port    int
	version string
}

// Reference names the Dubbo interface (common.ReferencedRPCService).
func (*UserService) Reference() string { return UserInterface }

// GetUser takes two arguments so that tests see every argument travel:
// it answers {ID, "<greeting> <name> from <app>@<port> v<version>", Age+1}.
// An empty ID is an error, returned to the caller as the provider's answer;
// the ID "nobody" gets a null reply.
func (s *UserService) GetUser(_ context.Context, u *User, greeting string) (*User, error) {
	if u == nil || u.ID == "" {
		return nil, errors.New("user: empty id")
	}
	if u.ID == "nobody" {
		return nil, nil
	}
	return &User{
		ID:   u.ID,
		Name: fmt.Sprintf("%s %s from %s@%d v%s", greeting, u.Name, s.app, s.port, s.version),
		Age:  u.Age + 1,
	}, nil
}
