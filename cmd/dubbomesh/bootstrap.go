package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dubbomesh/dubbomesh/xds"
)

func bootstrapCmd() *cobra.Command {
	var c xds.BootstrapConfig
	cmd := &cobra.Command{
		Use:   "bootstrap envoy|grpc",
		Short: "Print a bootstrap that points an Envoy sidecar or a proxyless gRPC client at dubbomesh",
		Long: `Print a bootstrap for a client of dubbomesh's xDS server.

  envoy: YAML for "envoy -c", making Envoy a sidecar whose outbound listener
         routes Triple/gRPC calls by :authority (the mesh host).
  grpc:  JSON for grpc-go's xds resolver (GRPC_XDS_BOOTSTRAP_CONFIG), so that
         grpc.NewClient("xds:///<mesh host>") reaches Dubbo providers.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"envoy", "grpc"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				out []byte
				err error
			)
			switch args[0] {
			case "envoy":
				out, err = xds.EnvoyBootstrap(c)
			case "grpc":
				out, err = xds.GRPCBootstrap(c)
			default:
				return fmt.Errorf("unknown client %q: want envoy or grpc", args[0])
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.XDSAddress, "xds", xds.DefaultAddress, "dubbomesh xDS address (host:port)")
	f.StringVar(&c.NodeID, "node", "dubbomesh-client", "xDS node id")
	f.StringVar(&c.Cluster, "cluster", "", "Envoy service cluster")
	f.StringVar(&c.AdminAddress, "admin", "", "Envoy admin address (host:port); empty for none")
	f.BoolVar(&c.Delta, "delta", false, "Envoy: use incremental (Delta) xDS")
	f.StringVar(&c.CAFile, "ca", "", "TLS to dubbomesh: CA bundle (PEM) its certificate chains to")
	f.StringVar(&c.CertFile, "cert", "", "mutual TLS: client certificate (PEM), with --key and --ca")
	f.StringVar(&c.KeyFile, "key", "", "mutual TLS: client private key (PEM)")
	return cmd
}
