package nacos

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	sdklogger "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
)

// TestCheckedCall: a failure answer the SDK logs during a checked call of
// its request type makes the call an ErrRefused with the server's
// message; one of another type, or none, leaves the call's result alone.
func TestCheckedCall(t *testing.T) {
	l := sdkLogger{log: slog.New(slog.DiscardHandler)}
	refuse := func(reqType string) func() error {
		return func() error {
			l.Warnf(sdkFailResponse, reqType, 403, 500, "user not found!")
			return nil
		}
	}
	err := checkedCall(reqServiceList, refuse(reqServiceList))
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "user not found!") || !strings.Contains(err.Error(), "403") {
		t.Errorf("refused listing: %v, want ErrRefused with the server's message", err)
	}
	if err := checkedCall(reqServiceList, refuse(reqSubscribe)); err != nil {
		t.Errorf("listing during a refused subscribe: %v, want nil", err)
	}
	if err := checkedCall(reqServiceList, func() error { return nil }); err != nil {
		t.Errorf("answered listing: %v, want nil", err)
	}
	boom := errors.New("boom")
	if err := checkedCall(reqServiceList, func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failed listing: %v, want the call's error", err)
	}
	// Other warnings of the SDK are not refusals.
	l.Warnf("%s request received fail response", reqServiceList)
	if err := checkedCall(reqServiceList, func() error {
		l.Warnf("[client.ListenConfig] %s", "other")
		return nil
	}); err != nil {
		t.Errorf("unrelated warning: %v, want nil", err)
	}
}

// TestEnsureSDKLog: a logger another SDK user installed is replaced by the
// watcher's before a checked call, so refusals stay visible.
func TestEnsureSDKLog(t *testing.T) {
	w, err := NewWatcher(Config{Name: "nacos", Servers: []string{"127.0.0.1:8848"}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	prev := sdklogger.GetLogger()
	t.Cleanup(func() { sdklogger.SetLogger(prev) })
	sdklogger.SetLogger(otherLogger{prev})
	w.ensureSDKLog()
	if _, ok := sdklogger.GetLogger().(sdkLogger); !ok {
		t.Errorf("SDK logger is %T after ensureSDKLog, want sdkLogger", sdklogger.GetLogger())
	}
}

type otherLogger struct{ sdklogger.Logger }
