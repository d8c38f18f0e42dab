package testenv

import (
	"net/http"
	"testing"
)

// TestStartNacosWithAuth: with credentials, rnacos refuses requests without
// a token, logs the admin user in and refuses a wrong password; a restart
// keeps the user.
func TestStartNacosWithAuth(t *testing.T) {
	opts := NacosOptions{Username: "mesh", Password: "s3cret-pw"}
	n := StartNacosWith(t, opts)
	status := func() int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
			"http://"+n.Addr()+"/nacos/v1/ns/service/list?pageNo=1&pageSize=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusForbidden {
		t.Errorf("service list without a token: status %d, want %d", got, http.StatusForbidden)
	}
	if _, err := n.login(t.Context()); err != nil {
		t.Errorf("login with the admin credentials: %v", err)
	}
	wrong := &Nacos{port: n.port, opts: NacosOptions{Username: opts.Username, Password: "wrong"}}
	if tok, err := wrong.login(t.Context()); err == nil {
		t.Errorf("login with a wrong password = token %q, want an error", tok)
	}
	n.Stop(t)
	n.Start(t) // ready logs in again: the user is in the data directory
}
