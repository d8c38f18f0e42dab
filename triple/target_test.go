package triple

import "testing"

func TestProxylessTarget(t *testing.T) {
	for _, tt := range []struct {
		target Target
		want   string
	}{
		{Target{Proxyless: true}, "xds:///greeter.dubbo"},
		{Target{Proxyless: true, ProxylessPort: 50051}, "xds:///greeter.dubbo:50051"},
	} {
		if got := tt.target.ProxylessTarget("greeter.dubbo"); got != tt.want {
			t.Errorf("%+v: ProxylessTarget = %q, want %q", tt.target, got, tt.want)
		}
	}
}
