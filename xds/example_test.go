package xds_test

import (
	"fmt"

	"github.com/dubbomesh/dubbomesh/xds"
)

func ExampleClusterName() {
	fmt.Println(xds.ClusterName("org.example.greeter.dubbo", "tri"))
	fmt.Println(xds.ClusterName("org.example.greeter.dubbo", "dubbo"))
	// Output:
	// org.example.greeter.dubbo
	// dubbo|org.example.greeter.dubbo
}

func ExampleConfig_Validate() {
	cfg := xds.Config{TLS: xds.TLS{CertFile: "/etc/dubbomesh/tls.crt"}}
	fmt.Println(cfg.Validate())
	// Output: xds: tls: a certificate file and a key file are both required
}

// The bootstrap a proxyless grpc-go client needs to reach dubbomesh
// (GRPC_XDS_BOOTSTRAP_CONFIG), then grpc.NewClient("xds:///HOST").
func ExampleGRPCBootstrap() {
	b, err := xds.GRPCBootstrap(xds.BootstrapConfig{XDSAddress: "127.0.0.1:15010", NodeID: "my-app"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output:
	// {
	//   "node": {
	//     "id": "my-app",
	//     "metadata": {
	//       "GENERATOR": "grpc"
	//     }
	//   },
	//   "xds_servers": [
	//     {
	//       "channel_creds": [
	//         {
	//           "type": "insecure"
	//         }
	//       ],
	//       "server_features": [
	//         "xds_v3"
	//       ],
	//       "server_uri": "127.0.0.1:15010"
	//     }
	//   ]
	// }
}
