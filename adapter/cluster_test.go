package adapter

import (
	"testing"

	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"

	"github.com/dubbomesh/dubbomesh/triple"
)

// TestSerialization: IDL references (protobuf, json, unset) take the
// protobuf mesh path, hessian2 references the non-IDL one, and anything
// else is passed on for the mesh path to refuse.
func TestSerialization(t *testing.T) {
	for param, want := range map[string]string{
		"":                             triple.SerializationProtobuf,
		constant.ProtobufSerialization: triple.SerializationProtobuf,
		constant.JSONSerialization:     triple.SerializationProtobuf,
		constant.Hessian2Serialization: triple.SerializationHessian2,
		constant.MsgpackSerialization:  constant.MsgpackSerialization,
	} {
		var opts []common.Option
		if param != "" {
			opts = append(opts, common.WithParamsValue(constant.SerializationKey, param))
		}
		if got := serialization(common.NewURLWithOptions(opts...)); got != want {
			t.Errorf("serialization=%q: got %q, want %q", param, got, want)
		}
	}
}
