package zookeeper

import (
	"slices"
	"testing"
)

// TestHostList: every server is handed out in turn, unresolved, and
// retryStart (the client's one-second pause) comes once all of them were
// tried since the last successful connection.
func TestHostList(t *testing.T) {
	var h hostList
	if err := h.Init([]string{"zk-0.zk:2181", "zk-1.zk:2181", "10.0.0.3:2181"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	var retries []bool
	for range 6 {
		s, retry := h.Next()
		got = append(got, s)
		retries = append(retries, retry)
	}
	if first := slices.Sorted(slices.Values(got[:3])); !slices.Equal(first, []string{"10.0.0.3:2181", "zk-0.zk:2181", "zk-1.zk:2181"}) {
		t.Errorf("first round %v, want each server once, as given", got[:3])
	}
	if !slices.Equal(got[:3], got[3:]) {
		t.Errorf("rounds %v and %v differ, want the same order", got[:3], got[3:])
	}
	if want := []bool{false, false, false, true, false, false}; !slices.Equal(retries, want) {
		t.Errorf("retryStart %v, want %v", retries, want)
	}
	h.Connected() // on got[5]
	for i := range 3 {
		if _, retry := h.Next(); retry != (i == 2) {
			t.Errorf("after Connected, attempt %d: retryStart = %v", i+1, retry)
		}
	}
	if err := (&hostList{}).Init(nil); err == nil {
		t.Error("Init(nil) accepted")
	}
}
