package endpoint

import (
	"maps"
	"testing"
	"unsafe"
)

func TestParamsSetShares(t *testing.T) {
	var s ParamsSet
	a := map[string]string{"application": "app", "version": "1.0.0"}
	b := maps.Clone(a)
	c := map[string]string{"application": "app", "version": "2.0.0"}
	if got := s.Share(a); !sameMap(got, a) {
		t.Fatal("Share(a) did not return a")
	}
	if got := s.Share(b); !sameMap(got, a) {
		t.Error("Share(b) with the content of a did not return a")
	}
	if got := s.Share(c); !sameMap(got, c) || !maps.Equal(got, c) {
		t.Error("Share(c) did not return c")
	}
	if s.Share(nil) != nil {
		t.Error("Share(nil) != nil")
	}
}

func TestParamDetaches(t *testing.T) {
	url := "application=app&timestamp=1700000000000"
	k, v := Param(url[:11], url[12:15])
	if k != "application" || v != "app" || unsafe.StringData(v) == unsafe.StringData(url[12:15]) {
		t.Errorf("Param = %q, %q; want interned copies", k, v)
	}
	_, ts := Param("timestamp", url[26:])
	if ts != "1700000000000" || unsafe.StringData(ts) == unsafe.StringData(url[26:]) {
		t.Errorf("Param(timestamp) = %q; want a copy", ts)
	}
}

func sameMap(a, b map[string]string) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}
