package nacos

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	sdklogger "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
)

// ErrRefused is wrapped by the errors of requests the Nacos server answered
// with a failure (resultCode/errorCode: a refused login, "user not found!",
// an UNHEALTHY server, ...): such an answer is never an empty result.
var ErrRefused = errors.New("nacos: request refused by the server")

// Request types of the SDK's gRPC requests whose answers are checked.
const (
	reqServiceList = "ServiceListRequest"
	reqSubscribe   = "SubscribeServiceRequest"
)

// nacos-sdk-go v2.3.2 turns a failure answer of a listing or a subscribe
// into an empty result with no error (RpcClient.Request only logs it, and
// NamingGrpcProxy reads the empty body): a refused listing would look like
// a registry without services. The only trace of the failure is the SDK's
// warning, logged synchronously by the goroutine that made the request
// before the call returns, so sdkLogger hands every such warning to
// sdkRefusals, and checkedCall reads it around the call. The SDK's logger
// is process-wide, so checked calls are serialised process-wide too
// (checkedCalls): a warning seen during a checked call belongs to it.
const sdkFailResponse = "%s request received fail response, error code: %d, result code: %d, message: [%s]"

var (
	sdkRefusals  = &refusalLog{count: map[string]uint64{}, last: map[string]string{}}
	checkedCalls sync.Mutex
)

// refusalLog counts the failure answers the SDK reported, by request type,
// and keeps the last one's description.
type refusalLog struct {
	mu    sync.Mutex
	count map[string]uint64
	last  map[string]string
}

// record takes the arguments of an SDK warning logged with format; it
// reports whether it was a failure answer.
func (l *refusalLog) record(format string, args []any) bool {
	if format != sdkFailResponse || len(args) != 4 {
		return false
	}
	reqType, _ := args[0].(string)
	desc := fmt.Sprintf("error code %v, result code %v: %v", args[1], args[2], args[3])
	l.mu.Lock()
	l.count[reqType]++
	l.last[reqType] = desc
	l.mu.Unlock()
	return true
}

func (l *refusalLog) read(reqType string) (uint64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count[reqType], l.last[reqType]
}

// ensureSDKLog points the SDK's logger back at the watcher's if something
// else in the process replaced it (another SDK user creating a client):
// checkedCall sees refusals only through sdkLogger.
func (w *Watcher) ensureSDKLog() {
	if _, ok := sdklogger.GetLogger().(sdkLogger); !ok {
		w.routeSDKLog()
	}
}

// checkedCall runs call, an SDK call that sends requests of type reqType,
// and returns ErrRefused (with the server's message) if the server answered
// one of them with a failure while call reported success.
func checkedCall(reqType string, call func() error) error {
	checkedCalls.Lock()
	defer checkedCalls.Unlock()
	before, _ := sdkRefusals.read(reqType)
	err := call()
	after, desc := sdkRefusals.read(reqType)
	if err == nil && after != before {
		return fmt.Errorf("%w: %s %s", ErrRefused, strings.TrimSuffix(reqType, "Request"), desc)
	}
	return err
}
