package resolver

import (
	"context"
	"errors"
	"testing"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// TestFetchFromMetadataServiceWithoutOne: an instance that announces no
// MetadataService, or one without a port, is never dialled: the error says
// so (ErrNoMetadataService) instead of failing on port "".
func TestFetchFromMetadataServiceWithoutOne(t *testing.T) {
	for name, md := range map[string]map[string]string{
		"no url-params": {MetaRevision: "r1", MetaStorageType: StorageRemote},
		"empty":         {MetaRevision: "r1", constant.MetadataServiceURLParamsPropertyName: ""},
		"no port":       {MetaRevision: "r1", constant.MetadataServiceURLParamsPropertyName: `{"protocol":"dubbo"}`},
	} {
		t.Run(name, func(t *testing.T) {
			in, _, err := NewInstance("127.0.0.1:20000", "java", "127.0.0.1", 20000, "", md)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			defer cancel()
			mi, err := FetchFromMetadataService(ctx, "r1", in)
			if !errors.Is(err, ErrNoMetadataService) || mi != nil {
				t.Fatalf("FetchFromMetadataService = %v, %v; want ErrNoMetadataService", mi, err)
			}
		})
	}
}

// TestResolverRemoteWithoutMetadataService: an instance with remote
// metadata whose report is missing and that exports no MetadataService
// (Apache Dubbo Java with metadata-type remote) is counted as
// no_metadata_service, reported at application level, and resolved by a
// retry once the report is there.
func TestResolverRemoteWithoutMetadataService(t *testing.T) {
	m, err := source.NewMetrics("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	reports := make(chan *info.MetadataInfo, 1) // the report, once written
	r := New(Config{Timeout: wait, Retry: backoff, Clock: clk, Metrics: m,
		ReadReport: func(key MetaKey) (*info.MetadataInfo, error) {
			select {
			case mi := <-reports:
				return mi, nil
			default:
				return nil, errors.New("no node")
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Errorf("Run did not return within %v of cancel", wait)
		}
	})
	h := &harness{t: t, r: r, clk: clk, m: m}
	java := AppKey{Name: "java"}
	in, _, err := NewInstance("127.0.0.1:20000", "java", "127.0.0.1", 20000, "",
		map[string]string{MetaRevision: "r1", MetaStorageType: StorageRemote, MetaEndpoints: `[{"port":20000,"protocol":"tri"}]`})
	if err != nil {
		t.Fatal(err)
	}
	r.Set(java, []*Instance{in})
	h.results(1)
	if got := testutil.ToFloat64(m.Fetches.WithLabelValues(StorageRemote, "no_metadata_service")); got != 1 {
		t.Errorf("fetches{remote,no_metadata_service} = %v, want 1", got)
	}
	h.flush()
	if diff := cmp.Diff([]string{"127.0.0.1:20000?r1"}, h.addrs(appService("java"))); diff != "" {
		t.Errorf("application-level endpoints while unresolved (-want +got):\n%s", diff)
	}

	reports <- info.NewMetadataInfoWithParams("java", "r1", map[string]*info.ServiceInfo{
		"org.java:1.0.0:tri": {Name: "org.java", Version: "1.0.0", Protocol: "tri"},
	})
	clk.Step(backoff.Max)
	select {
	case <-r.Retry():
		r.HandleRetry()
	case <-time.After(wait):
		t.Fatal("no retry")
	}
	h.results(1)
	h.flush()
	if diff := cmp.Diff([]string{"127.0.0.1:20000?1.0.0"}, h.addrs(iface("org.java"))); diff != "" {
		t.Errorf("org.java after the report was written (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(m.Fetches.WithLabelValues(StorageRemote, "ok")); got != 1 {
		t.Errorf("fetches{remote,ok} = %v, want 1", got)
	}
}
