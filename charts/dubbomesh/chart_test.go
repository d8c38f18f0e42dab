// Package dubbomesh_test tests the Helm chart in this directory with a real
// helm (scripts/tools/helm.sh): lint, rendering, strict decoding of every
// rendered object into its Kubernetes API type, the values schema, an
// install into a real kube-apiserver and the image run under runc with what
// the chart renders. The Go files are not part of the packaged chart
// (.helmignore).
package dubbomesh_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

const helmTimeout = 2 * time.Minute

// chartDir is this directory.
func chartDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(file)
}

// productionValues is the production-like values file.
func productionValues(t *testing.T) string {
	return filepath.Join(chartDir(t), "ci", "production-values.yaml")
}

// helm runs helm with a timeout.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), helmTimeout)
	defer cancel()
	return testenv.Helm(ctx, t, args...)
}

// render runs helm template for release "dubbomesh" in namespace
// dubbo-system with the given extra arguments (-f FILE, --set k=v).
func render(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helm(t, append([]string{"template", "dubbomesh", chartDir(t), "--namespace", "dubbo-system"}, args...)...)
}

// documents splits a multi-document YAML stream, dropping empty documents.
func documents(t *testing.T, stream string) [][]byte {
	t.Helper()
	var out [][]byte
	dec := yaml.NewDecoder(strings.NewReader(stream))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, stream)
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
			continue
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// decoder decodes strictly (unknown and duplicate fields are errors) into
// the Kubernetes API types the chart renders.
func decoder(t *testing.T) k8sruntime.Decoder {
	t.Helper()
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// objects renders the chart and decodes every object strictly, by kind and
// name.
func objects(t *testing.T, args ...string) map[string]k8sruntime.Object {
	t.Helper()
	out, err := render(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	dec := decoder(t)
	objs := map[string]k8sruntime.Object{}
	for _, doc := range documents(t, out) {
		obj, gvk, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("strict decoding of a rendered object: %v\n%s", err, doc)
		}
		name := obj.(interface{ GetName() string }).GetName()
		objs[gvk.Kind+"/"+name] = obj
	}
	return objs
}

func kinds(objs map[string]k8sruntime.Object) []string {
	var out []string
	for k := range objs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default values", nil},
		{"production values", []string{"-f", productionValues(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(t, append([]string{"lint", "--strict", chartDir(t)}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestTemplateDefaultValues(t *testing.T) {
	objs := objects(t)
	want := []string{
		"ConfigMap/dubbomesh", "Deployment/dubbomesh", "PodDisruptionBudget/dubbomesh",
		"Service/dubbomesh", "ServiceAccount/dubbomesh",
	}
	if diff := cmp.Diff(want, kinds(objs)); diff != "" {
		t.Errorf("rendered objects (-want +got):\n%s", diff)
	}
	d := objs["Deployment/dubbomesh"].(*appsv1.Deployment)
	if got := *d.Spec.Replicas; got != 2 {
		t.Errorf("replicas = %d, want 2", got)
	}
	pod := d.Spec.Template.Spec
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("topologySpreadConstraints = %+v, want one over kubernetes.io/hostname", pod.TopologySpreadConstraints)
	}
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		t.Errorf("no pod anti-affinity")
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot ||
		sc.Capabilities == nil || !cmp.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext = %+v, want read-only root, no privilege escalation, non-root, drop ALL", sc)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 65532 || psc.SeccompProfile == nil ||
		psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v, want uid 65532 and seccomp RuntimeDefault", psc)
	}
	if got := [2]string{c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path}; got != [2]string{"/healthz", "/readyz"} {
		t.Errorf("liveness, readiness = %q, want /healthz, /readyz", got)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the service account token is mounted; dubbomesh needs none")
	}
	svc := objs["Service/dubbomesh"].(*corev1.Service)
	if diff := cmp.Diff([]string{"grpc-xds:15010", "http-admin:15080"}, servicePorts(svc)); diff != "" {
		t.Errorf("service ports (-want +got):\n%s", diff)
	}
	cfg := configFile(t, objs)
	want2 := map[string]any{
		"registries": []any{"zookeeper://zookeeper.zookeeper.svc:2181"},
		"xds":        map[string]any{"address": "0.0.0.0:15010"},
		"admin":      map[string]any{"address": "0.0.0.0:15080"},
		"log":        map[string]any{"level": "info", "format": "json"},
	}
	if diff := cmp.Diff(want2, cfg); diff != "" {
		t.Errorf("dubbomesh.yaml (-want +got):\n%s", diff)
	}
}

func TestTemplateProductionValues(t *testing.T) {
	objs := objects(t, "-f", productionValues(t))
	want := []string{
		"ConfigMap/dubbomesh", "Deployment/dubbomesh", "NetworkPolicy/dubbomesh", "PodDisruptionBudget/dubbomesh",
		"Service/dubbomesh", "ServiceAccount/dubbomesh", "ServiceMonitor/dubbomesh",
	}
	if diff := cmp.Diff(want, kinds(objs)); diff != "" {
		t.Errorf("rendered objects (-want +got):\n%s", diff)
	}
	// Every shard's port, by the rule of istio.Config.ShardAddresses
	// (xds port + i).
	svc := objs["Service/dubbomesh"].(*corev1.Service)
	wantPorts := []string{"grpc-xds:15010", "grpc-xds-shard-1:15011", "grpc-xds-shard-2:15012", "grpc-xds-shard-3:15013", "http-admin:15080"}
	if diff := cmp.Diff(wantPorts, servicePorts(svc)); diff != "" {
		t.Errorf("service ports (-want +got):\n%s", diff)
	}
	np := objs["NetworkPolicy/dubbomesh"].(*networkingv1.NetworkPolicy)
	var xdsFrom []string
	for _, p := range np.Spec.Ingress[0].From {
		xdsFrom = append(xdsFrom, fmt.Sprint(p.NamespaceSelector.MatchLabels))
	}
	if diff := cmp.Diff([]string{"map[kubernetes.io/metadata.name:istio-system]"}, xdsFrom); diff != "" {
		t.Errorf("xDS admitted from (-want +got):\n%s", diff)
	}
	if got := len(np.Spec.Ingress[0].Ports); got != 4 {
		t.Errorf("the xDS rule covers %d ports, want the 4 shard ports", got)
	}
	d := objs["Deployment/dubbomesh"].(*appsv1.Deployment)
	if got, want := d.Spec.Template.Spec.Containers[0].Image,
		"registry.example.com/platform/dubbomesh@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; got != want {
		t.Errorf("image = %q, want %q", got, want)
	}

	cm := objs["ConfigMap/dubbomesh"].(*corev1.ConfigMap)
	for _, secret := range []string{"password=", "secretKey="} {
		if strings.Contains(cm.Data["dubbomesh.yaml"], secret) {
			t.Errorf("the ConfigMap holds %q:\n%s", secret, cm.Data["dubbomesh.yaml"])
		}
	}
	cfg := configFile(t, objs)
	wantCfg := map[string]any{
		"registries": []any{
			"zookeeper://zk-0.zk.zookeeper.svc:2181,zk-1.zk.zookeeper.svc:2181,zk-2.zk.zookeeper.svc:2181?root=dubbo&name=zk-prod",
			"nacos://nacos.nacos.svc:8848?namespace=prod&group=DEFAULT_GROUP&username=dubbomesh&name=nacos-prod&passwordFile=/etc/dubbomesh/secrets/registry-1-password/password",
		},
		"xds": map[string]any{
			"address":  "0.0.0.0:15010",
			"tls":      map[string]any{"cert": "/etc/dubbomesh/xds-tls/tls.crt", "key": "/etc/dubbomesh/xds-tls/tls.key"},
			"debounce": map[string]any{"quiet": "20ms", "ceiling": "500ms"},
		},
		"admin": map[string]any{"address": "0.0.0.0:15080", "tokenFile": "/etc/dubbomesh/admin/token"},
		"log":   map[string]any{"level": "info", "format": "json"},
		"istio": map[string]any{"enabled": true, "namespace": "dubbo", "shards": 4},
		"model": map[string]any{"staleTTL": "15m"},
	}
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("dubbomesh.yaml (-want +got):\n%s", diff)
	}
	// The files the config names are the Secrets' mounts.
	mounts := map[string]string{}
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	volumes := map[string]string{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			volumes[v.Name] = v.Secret.SecretName
		}
	}
	for dir, secret := range map[string]string{
		"/etc/dubbomesh/secrets/registry-1-password": "nacos-dubbomesh",
		"/etc/dubbomesh/xds-tls":                     "dubbomesh-xds-tls",
		"/etc/dubbomesh/admin":                       "dubbomesh-admin",
	} {
		if got := volumes[mounts[dir]]; got != secret {
			t.Errorf("%s mounts Secret %q, want %q", dir, got, secret)
		}
	}
}

func TestTemplateShardPorts(t *testing.T) {
	objs := objects(t, "--set", "istio.enabled=true", "--set", "istio.shards=3", "--set", "istio.shardPorts={16000,16001}")
	svc := objs["Service/dubbomesh"].(*corev1.Service)
	want := []string{"grpc-xds:15010", "grpc-xds-shard-1:16000", "grpc-xds-shard-2:16001", "http-admin:15080"}
	if diff := cmp.Diff(want, servicePorts(svc)); diff != "" {
		t.Errorf("service ports (-want +got):\n%s", diff)
	}
	if _, err := render(t, "--set", "istio.enabled=true", "--set", "xds.tls.secretName=tls"); err == nil ||
		!strings.Contains(err.Error(), "istio.caCertificates") {
		t.Errorf("Istio with xDS TLS and no CA for istiod: err = %v, want istio.caCertificates named", err)
	}
	if _, err := render(t, "--set", "istio.enabled=true", "--set", "istio.shards=3", "--set", "istio.shardPorts={16000}"); err == nil ||
		!strings.Contains(err.Error(), "istio.shardPorts has 1 entries") {
		t.Errorf("shards=3 with one shardPort: err = %v, want the shardPorts count named", err)
	}
}

// TestTemplateDashboards: grafanaDashboards.enabled ships every file of
// dashboards/ unchanged in one ConfigMap (none when there are no files).
func TestTemplateDashboards(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir(t), "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want[filepath.Base(f)] = string(b)
	}
	objs := objects(t, "--set", "grafanaDashboards.enabled=true")
	cm, ok := objs["ConfigMap/dubbomesh-dashboards"].(*corev1.ConfigMap)
	if len(want) == 0 {
		if ok {
			t.Errorf("no dashboards/*.json, yet a dashboards ConfigMap: %v", cm.Data)
		}
		return
	}
	if !ok {
		t.Fatalf("no dashboards ConfigMap; rendered %v", kinds(objs))
	}
	if diff := cmp.Diff(want, cm.Data); diff != "" {
		t.Errorf("dashboards (-files +ConfigMap):\n%s", diff)
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("labels = %v, want grafana_dashboard=1 for Grafana's sidecar", cm.Labels)
	}
	if _, ok := objects(t)["ConfigMap/dubbomesh-dashboards"]; ok {
		t.Errorf("dashboards rendered with grafanaDashboards.enabled=false")
	}
}

func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  string
		want string // in helm's error
	}{
		{"no scheme", "registries[0].url=zk-0.zk:2181", "registries/0/url"},
		{"unknown scheme", "registries[0].url=etcd://etcd:2379", "registries/0/url"},
		{"no host", "registries[0].url=zookeeper://", "registries/0/url"},
		{"bad port", "registries[0].url=zookeeper://zk:21x1", "registries/0/url"},
		{"user info", "registries[0].url=nacos://user:pw@nacos:8848", "registries/0/url"},
		{"password in the URL", "registries[0].url=nacos://nacos:8848?username=u&password=p", "registries/0/url"},
		{"space", "registries[0].url=zookeeper://zk 2181", "registries/0/url"},
		{"negative replicas", "replicaCount=-1", "replicaCount"},
		{"port 0", "xds.port=0", "xds/port"},
		{"port too big", "admin.port=70000", "admin/port"},
		{"log level", "log.level=verbose", "log/level"},
		{"zero shards", "istio.shards=0", "istio/shards"},
		{"unknown key", "xds.adress=0.0.0.0:1", "adress"},
		{"unknown top-level key", "replicas=3", "replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, "--set", tc.set)
			if err == nil {
				t.Fatalf("--set %s rendered; want the schema to reject it", tc.set)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("--set %s: error %q does not name %q", tc.set, err, tc.want)
			}
		})
	}
	t.Run("no registries", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "v.yaml")
		if err := os.WriteFile(f, []byte("registries: []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := render(t, "-f", f); err == nil || !strings.Contains(err.Error(), "registries") {
			t.Errorf("registries: [] → err = %v, want the schema to name registries", err)
		}
	})
	// The URLs the README shows are accepted.
	for _, ok := range []string{
		"zookeeper://127.0.0.1:2181,127.0.0.1:2182?root=dubbo&name=zk-a",
		"zk://zk",
		"nacos://nacos:8848?namespace=,dev&group=DEFAULT_GROUP&serviceListInterval=30s",
	} {
		// A values file: --set would split the URL at its commas.
		f := filepath.Join(t.TempDir(), "v.yaml")
		if err := os.WriteFile(f, []byte(fmt.Sprintf("registries:\n  - url: %q\n", ok)), 0o644); err != nil {
			t.Fatal(err)
		}
		objs := objects(t, "-f", f)
		if got := configFile(t, objs)["registries"]; !cmp.Equal(got, []any{ok}) {
			t.Errorf("%s: registries in the config = %v", ok, got)
		}
	}
}

func servicePorts(svc *corev1.Service) []string {
	var out []string
	for _, p := range svc.Spec.Ports {
		out = append(out, fmt.Sprintf("%s:%d", p.Name, p.Port))
	}
	return out
}

// configFile is the rendered dubbomesh.yaml, parsed.
func configFile(t *testing.T, objs map[string]k8sruntime.Object) map[string]any {
	t.Helper()
	cm := objs["ConfigMap/dubbomesh"].(*corev1.ConfigMap)
	var cfg map[string]any
	dec := yaml.NewDecoder(bytes.NewReader([]byte(cm.Data["dubbomesh.yaml"])))
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("dubbomesh.yaml: %v\n%s", err, cm.Data["dubbomesh.yaml"])
	}
	return cfg
}
