// Command dubbomesh serves Dubbo services found in ZooKeeper to xDS clients:
// Envoy sidecars and proxyless gRPC (xds:///host).
//
//	dubbomesh serve --config dubbomesh.yaml
//	dubbomesh bootstrap envoy --xds 127.0.0.1:15010 --node sidecar-1
//	dubbomesh istio config-sources --shards 4 --host dubbomesh.dubbo-system
//	dubbomesh version
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dubbomesh:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "dubbomesh",
		Short:         "Bridge Dubbo registries (ZooKeeper) into an xDS service mesh",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), bootstrapCmd(), istioCmd(), routingCmd(), inspectCmd(), versionCmd())
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "dubbomesh", version)
		},
	}
}
