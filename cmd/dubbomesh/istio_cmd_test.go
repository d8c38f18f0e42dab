package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIstioConfigSources(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "dubbomesh.yaml")
	if err := os.WriteFile(cfgFile, []byte("registries: [zookeeper://127.0.0.1:2181]\nxds: {address: 0.0.0.0:18000}\nistio: {enabled: true, shards: 3, shardPorts: [18101, 18102]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"istio", "config-sources", "--shards", "4", "--host", "dubbomesh.dubbo-system"}, `# dubbomesh: 4 Istio shard(s); host h is on shard FNV-1a-32(h) mod 4
configSources:
- address: k8s://
- address: xds://dubbomesh.dubbo-system:15010 # shard 0
- address: xds://dubbomesh.dubbo-system:15011 # shard 1
- address: xds://dubbomesh.dubbo-system:15012 # shard 2
- address: xds://dubbomesh.dubbo-system:15013 # shard 3
`},
		{[]string{"istio", "config-sources", "-c", cfgFile, "--host", "dm", "--no-k8s"}, `# dubbomesh: 3 Istio shard(s); host h is on shard FNV-1a-32(h) mod 3
configSources:
- address: xds://dm:18000 # shard 0
- address: xds://dm:18101 # shard 1
- address: xds://dm:18102 # shard 2
`},
		// FNV-1a 32 of "greeter.dubbo" is 0xfc059fff (computed outside Go): mod 4 = 3.
		{[]string{"istio", "shard", "--shards", "4", "greeter.dubbo"}, "greeter.dubbo\tshard 3\tport 15013\n"},
	} {
		var out bytes.Buffer
		cmd := rootCmd()
		cmd.SetOut(&out)
		cmd.SetArgs(tc.args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if d := cmp.Diff(tc.want, out.String()); d != "" {
			t.Errorf("%v (-want +got):\n%s", tc.args, d)
		}
	}
	cmd := rootCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetArgs([]string{"istio", "config-sources", "--shards", "3", "--shard-ports", "15011"})
	if err := cmd.Execute(); err == nil {
		t.Error("2 shard ports for 3 shards accepted")
	}
}
