package endpoint

import (
	"testing"
)

func TestWeight(t *testing.T) {
	nacos := func(w float64) RegistryWeight { return RegistryWeight{Value: w, Set: true} }
	tests := []struct {
		reg   RegistryWeight
		dubbo string
		want  uint32
	}{
		{nacos(1), "", 100},   // Nacos default = Dubbo default
		{nacos(1), "0", 100},  // dubbo-go wrote weight=0 and Nacos 1.0
		{nacos(0.5), "", 50},  // operator halved it
		{nacos(2), "", 200},   // operator doubled it
		{nacos(50), "50", 50}, // dubbo-go copied weight=50 into Nacos
		{nacos(60), "50", 60}, // changed in the console afterwards: Dubbo scale
		{nacos(0), "", 0},     // drain
		{nacos(0.001), "", 1}, // rounds to 0: keep a minimum of 1
		{nacos(10000), "", MaxRegistryWeight},
		{nacos(1e300), "", MaxRegistryWeight},
		{nacos(1), "abc", 100},
		{RegistryWeight{}, "", 100},
		{RegistryWeight{}, "0", 100},
		{RegistryWeight{}, "42", 42},
	}
	for _, tt := range tests {
		if got := Weight(tt.reg, tt.dubbo); got != tt.want {
			t.Errorf("Weight(%+v, %q) = %d, want %d", tt.reg, tt.dubbo, got, tt.want)
		}
	}
}

func FuzzParseEndpoints(f *testing.F) {
	f.Add(`[{"port":20000,"protocol":"tri"}]`)
	f.Add(`[{"port":"1","protocol":"dubbo"}]`)
	f.Add(`[{`)
	f.Fuzz(func(t *testing.T, raw string) {
		eps, err := ParseEndpoints(raw)
		if err != nil {
			return
		}
		for _, e := range eps {
			if e.Port == 0 || e.Port > 65535 || CheckProtocol(e.Protocol) != nil {
				t.Fatalf("ParseEndpoints(%q) = %+v", raw, eps)
			}
		}
	})
}
