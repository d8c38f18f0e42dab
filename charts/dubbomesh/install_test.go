package dubbomesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

// prometheusOperator is the prometheus-operator release whose API types
// (go.mod) and ServiceMonitor CRD the tests use.
const prometheusOperator = "github.com/prometheus-operator/prometheus-operator@v0.91.0"

// plurals are the REST resources of the kinds the chart renders.
var plurals = map[string]string{
	"ConfigMap": "configmaps", "Service": "services", "ServiceAccount": "serviceaccounts",
	"Deployment": "deployments", "PodDisruptionBudget": "poddisruptionbudgets",
	"NetworkPolicy": "networkpolicies", "ServiceMonitor": "servicemonitors",
}

type meta struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
	Metadata   struct {
		Name      string `yaml:"name" json:"name"`
		Namespace string `yaml:"namespace" json:"namespace"`
	} `yaml:"metadata" json:"metadata"`
}

// resourcePath is the REST path of an object (all the chart's kinds are
// namespaced).
func resourcePath(m meta) (string, error) {
	plural, ok := plurals[m.Kind]
	if !ok {
		return "", fmt.Errorf("no REST resource known for kind %s", m.Kind)
	}
	prefix := "/apis/" + m.APIVersion
	if m.APIVersion == "v1" {
		prefix = "/api/v1"
	}
	return fmt.Sprintf("%s/namespaces/%s/%s/%s", prefix, m.Metadata.Namespace, plural, m.Metadata.Name), nil
}

// TestInstallIntoKubeAPIServer creates every object the chart renders, for
// the default and the production-like values, in a real kube-apiserver:
// server-side apply with fieldValidation=Strict, so an unknown or
// duplicate field fails instead of being dropped; then reads each object
// back and checks the server kept what was rendered.
func TestInstallIntoKubeAPIServer(t *testing.T) {
	k := testenv.StartKubeAPIServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	installCRD(ctx, t, k, serviceMonitorCRD(ctx, t))

	for _, tc := range []struct {
		name, namespace string
		args            []string
	}{
		{"default values", "dubbo-default", nil},
		{"production values", "dubbo-prod", []string{"-f", productionValues(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, tc.namespace)
			if _, err := k.Do(ctx, http.MethodPost, "/api/v1/namespaces", "application/json", []byte(ns)); err != nil {
				t.Fatal(err)
			}
			out, err := helm(t, append([]string{"template", "dubbomesh", chartDir(t), "--namespace", tc.namespace}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			docs := documents(t, out)
			if len(docs) < 5 {
				t.Fatalf("rendered %d objects, want at least 5", len(docs))
			}
			for _, doc := range docs {
				var m meta
				if err := yaml.Unmarshal(doc, &m); err != nil {
					t.Fatal(err)
				}
				path, err := resourcePath(m)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := k.Do(ctx, http.MethodPatch, path+"?fieldManager=chart-test&fieldValidation=Strict",
					"application/apply-patch+yaml", doc); err != nil {
					t.Errorf("%s %s not accepted: %v", m.Kind, m.Metadata.Name, err)
					continue
				}
				stored, err := k.Do(ctx, http.MethodGet, path, "", nil)
				if err != nil {
					t.Errorf("%s %s: %v", m.Kind, m.Metadata.Name, err)
					continue
				}
				if diff := keptAsRendered(doc, stored); diff != "" {
					t.Errorf("%s %s: the server changed what was rendered (-rendered +stored):\n%s", m.Kind, m.Metadata.Name, diff)
				}
			}
		})
	}
	// The check can fail: the server rejects a field the API does not have.
	t.Run("an unknown field is rejected", func(t *testing.T) {
		cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: dubbo-default}\ndata: {a: b}\nbinaryDta: {}\n")
		_, err := k.Do(ctx, http.MethodPatch, "/api/v1/namespaces/dubbo-default/configmaps/typo?fieldManager=chart-test&fieldValidation=Strict",
			"application/apply-patch+yaml", cm)
		if err == nil || !strings.Contains(err.Error(), "binaryDta") {
			t.Errorf("err = %v, want the unknown field named", err)
		}
	})
	t.Run("helm install prints istiod's configSources", func(t *testing.T) {
		out, err := helm(t, "install", "dubbomesh", chartDir(t), "--kubeconfig", k.Kubeconfig(),
			"--namespace", "dubbo-system", "--create-namespace",
			"--set", "istio.enabled=true", "--set", "istio.shards=2")
		if err != nil {
			t.Fatal(err)
		}
		checkNotes(t, out, "- address: k8s://\n"+
			"- address: xds://dubbomesh.dubbo-system.svc:15010 # shard 0\n"+
			"- address: xds://dubbomesh.dubbo-system.svc:15011 # shard 1\n")
	})
	t.Run("helm install with production values prints tlsSettings", func(t *testing.T) {
		out, err := helm(t, "install", "dubbomesh", chartDir(t), "--kubeconfig", k.Kubeconfig(),
			"--namespace", "dubbo-tls", "--create-namespace", "-f", productionValues(t))
		if err != nil {
			t.Fatal(err)
		}
		want := "- address: k8s://\n"
		for i := range 4 {
			want += fmt.Sprintf("- address: xds://dubbomesh.dubbo-tls.svc:%d # shard %d\n", 15010+i, i) +
				"  tlsSettings: {mode: SIMPLE, caCertificates: /etc/dubbomesh-ca/ca.crt}\n"
		}
		checkNotes(t, out, want)
	})
}

// checkNotes checks the configSources block NOTES.txt prints for istiod
// (k8s:// first, one xds:// address per shard) and that it is YAML.
func checkNotes(t *testing.T, out, want string) {
	t.Helper()
	_, notes, ok := strings.Cut(out, "NOTES:\n")
	if !ok {
		t.Fatalf("no NOTES in:\n%s", out)
	}
	_, block, ok := strings.Cut(notes, "configSources:\n")
	if !ok {
		t.Fatalf("no configSources block in NOTES:\n%s", notes)
	}
	if diff := cmp.Diff(want, block); diff != "" {
		t.Errorf("configSources (-want +got):\n%s", diff)
	}
	var parsed struct {
		ConfigSources []struct {
			Address string `yaml:"address"`
		} `yaml:"configSources"`
	}
	if err := yaml.Unmarshal([]byte("configSources:\n"+block), &parsed); err != nil || len(parsed.ConfigSources) != strings.Count(want, "- address:") {
		t.Errorf("the block is not the YAML istiod reads: %v %+v", err, parsed)
	}
}

// keptAsRendered compares every field that was rendered with the stored
// object (which has more: defaults, metadata the server adds).
func keptAsRendered(rendered, stored []byte) string {
	var r, s any
	if err := yaml.Unmarshal(rendered, &r); err != nil {
		return err.Error()
	}
	if err := json.Unmarshal(stored, &s); err != nil {
		return err.Error()
	}
	return cmp.Diff(normalize(r), project(normalize(r), normalize(s)))
}

// normalize turns YAML's and JSON's numbers and maps into one form.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case int:
		return float64(v)
	case int64:
		return float64(v)
	default:
		return v
	}
}

// project keeps of got only the keys want has (recursively; lists index by
// index).
func project(want, got any) any {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return got
		}
		out := map[string]any{}
		for k, x := range w {
			if y, ok := g[k]; ok {
				out[k] = project(x, y)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return got
		}
		out := make([]any, len(w))
		for i := range w {
			out[i] = project(w[i], g[i])
		}
		return out
	case float64:
		// Quantities and int-or-strings come back as the server formats them.
		if s, ok := got.(string); ok {
			return s
		}
		return got
	default:
		return got
	}
}

// serviceMonitorCRD is prometheus-operator's own ServiceMonitor CRD, from
// its module (downloaded outside this module, so go.mod stays as it is).
func serviceMonitorCRD(ctx context.Context, t *testing.T) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", prometheusOperator)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", prometheusOperator, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %v %s", prometheusOperator, err, out)
	}
	b, err := os.ReadFile(filepath.Join(mod.Dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_servicemonitors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// installCRD creates a CRD and waits until it is Established.
func installCRD(ctx context.Context, t *testing.T, k *testenv.KubeAPIServer, crd []byte) {
	t.Helper()
	var m meta
	if err := yaml.Unmarshal(crd, &m); err != nil {
		t.Fatal(err)
	}
	path := "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + m.Metadata.Name
	if _, err := k.Do(ctx, http.MethodPatch, path+"?fieldManager=chart-test", "application/apply-patch+yaml", crd); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := k.Do(ctx, http.MethodGet, path, "", nil)
		if err == nil && established(b) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s not established after 30s: %v %s", m.Metadata.Name, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// established reports whether a CRD's status says Established=True.
func established(crd []byte) bool {
	var c struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(crd, &c) != nil {
		return false
	}
	for _, cond := range c.Status.Conditions {
		if cond.Type == "Established" && cond.Status == "True" {
			return true
		}
	}
	return false
}
