package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

func istioCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "istio",
		Short: "Helpers for pointing istiod at dubbomesh",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(configSourcesCmd(), shardCmd())
	return cmd
}

// sourcesFlags are the settings config-sources and shard read: a
// dubbomesh config file, overridden by flags.
type sourcesFlags struct {
	path       string
	host       string
	port       int
	shards     int
	shardPorts []uint
	caFile     string
	noK8s      bool
}

func (f *sourcesFlags) load(cmd *cobra.Command) (istio.Config, int, error) {
	var cfg config.Config
	if f.path != "" {
		c, err := config.Load(f.path)
		if err != nil {
			return istio.Config{}, 0, err
		}
		cfg = c
	}
	icfg := cfg.Istio.Config
	port := 0
	addr := cfg.XDS.Address
	if addr == "" {
		addr = xds.DefaultAddress
	}
	if _, p, err := net.SplitHostPort(addr); err == nil {
		port, _ = strconv.Atoi(p)
	}
	if cmd.Flags().Changed("port") || port == 0 {
		port = f.port
	}
	if cmd.Flags().Changed("shards") {
		icfg.Shards = f.shards
	}
	if cmd.Flags().Changed("shard-ports") {
		icfg.ShardPorts = nil
		for _, p := range f.shardPorts {
			icfg.ShardPorts = append(icfg.ShardPorts, uint32(p))
		}
	}
	return icfg, port, nil
}

func (f *sourcesFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.path, "config", "c", "", "dubbomesh's YAML configuration (xds.address, istio.shards, istio.shardPorts)")
	fl.IntVar(&f.shards, "shards", 1, "number of Istio shards (istio.shards)")
	fl.UintSliceVar(&f.shardPorts, "shard-ports", nil, "ports of shards 1..S-1 (istio.shardPorts; default the xDS port + i)")
	fl.IntVar(&f.port, "port", 15010, "dubbomesh's xDS port (shard 0)")
}

func configSourcesCmd() *cobra.Command {
	var f sourcesFlags
	cmd := &cobra.Command{
		Use:   "config-sources",
		Short: "Print the configSources block of istiod's mesh config, one entry per shard",
		Long: `Print the configSources block of istiod's mesh config (meshConfig in
Istio's Helm values, or the istio ConfigMap): k8s:// (the cluster's own
Istio config, silently dropped when configSources leaves it out), then one
xds:// entry per Istio shard of dubbomesh, as the Helm chart's notes print
it. istiod reads configSources only when it
starts, and a shard it does not name is silently missing from the mesh:
apply this block whenever istio.shards or istio.shardPorts change.

  dubbomesh istio config-sources --shards 4 --host dubbomesh.dubbo-system`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			icfg, port, err := f.load(cmd)
			if err != nil {
				return err
			}
			return writeConfigSources(cmd.OutOrStdout(), icfg, f.host, port, f.caFile, !f.noK8s)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.host, "host", "dubbomesh.dubbo-system", "host name istiod reaches dubbomesh by (its Kubernetes Service)")
	cmd.Flags().StringVar(&f.caFile, "ca-file", "", "PEM CA bundle: connect over TLS (tlsSettings mode SIMPLE, the PEM inline)")
	cmd.Flags().BoolVar(&f.noK8s, "no-k8s", false, "leave out the k8s:// entry")
	return cmd
}

func writeConfigSources(w io.Writer, icfg istio.Config, host string, port int, caFile string, k8s bool) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("%w: port %d", config.ErrInvalid, port)
	}
	addrs, err := icfg.ShardAddresses(net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	var tls string
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		q, err := json.Marshal(string(pem))
		if err != nil {
			return err
		}
		tls = fmt.Sprintf("  tlsSettings: {mode: SIMPLE, caCertificates: %s}\n", q)
	}
	if _, err := fmt.Fprintf(w, "# dubbomesh: %d Istio shard(s); host h is on shard FNV-1a-32(h) mod %d\nconfigSources:\n", len(addrs), len(addrs)); err != nil {
		return err
	}
	if k8s {
		if _, err := fmt.Fprintln(w, "- address: k8s://"); err != nil {
			return err
		}
	}
	for i, a := range addrs {
		if _, err := fmt.Fprintf(w, "- address: xds://%s # shard %d\n%s", a, i, tls); err != nil {
			return err
		}
	}
	return nil
}

func shardCmd() *cobra.Command {
	var f sourcesFlags
	cmd := &cobra.Command{
		Use:   "shard HOST...",
		Short: "Print the shard of each mesh host",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, hosts []string) error {
			icfg, port, err := f.load(cmd)
			if err != nil {
				return err
			}
			addrs, err := icfg.ShardAddresses(net.JoinHostPort("dubbomesh", strconv.Itoa(port)))
			if err != nil {
				return err
			}
			for _, h := range hosts {
				i := istio.Shard(h, len(addrs))
				_, p, _ := net.SplitHostPort(addrs[i])
				if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\tshard %d\tport %s\n", h, i, p); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
