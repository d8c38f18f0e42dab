package dubbomesh_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
)

const (
	greeterHost = "dubbomesh.examples.greeter.greeter.dubbo"
	greetMethod = "/dubbomesh.examples.greeter.Greeter/Greet"
)

// TestImageUnderRunc runs the image CI built (scripts/image.sh) under runc
// as the chart's Deployment says: the rendered ConfigMap mounted where the
// chart mounts it, the rendered args and environment, the pod's user, a
// read-only root and the chart's emptyDir volumes; against a real ZooKeeper
// with a real dubbo-go provider. /readyz turns 200 and a grpc-go xDS
// client reaches the provider through the endpoints the container serves.
//
// The container shares the host's network namespace, so the listen
// addresses (0.0.0.0 in the ConfigMap) are moved to free loopback ports by
// DUBBOMESH_XDS_ADDRESS and DUBBOMESH_ADMIN_ADDRESS, which override the file.
func TestImageUnderRunc(t *testing.T) {
	image := testenv.ImageLayout(t)
	testenv.RuncBinary(t)
	zk := testenv.StartZooKeeper(t)
	provider := testenv.StartProvider(t, testenv.ProviderConfig{Registry: "zookeeper://" + zk.Addr()})

	objs := objects(t, "--set", "registries[0].url=zookeeper://"+zk.Addr())
	cm := objs["ConfigMap/dubbomesh"].(*corev1.ConfigMap)
	pod := objs["Deployment/dubbomesh"].(*appsv1.Deployment).Spec.Template.Spec
	c := pod.Containers[0]

	dir := t.TempDir()
	volumes := map[string]string{} // volume name → host directory
	for _, v := range pod.Volumes {
		hostDir := filepath.Join(dir, v.Name)
		// The pod's fsGroup owns emptyDirs and projected files.
		if err := os.MkdirAll(hostDir, 0o2775); err != nil {
			t.Fatal(err)
		}
		switch {
		case v.ConfigMap != nil:
			for name, data := range cm.Data {
				if err := os.WriteFile(filepath.Join(hostDir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		case v.EmptyDir != nil:
		default:
			t.Fatalf("volume %s: the test knows only ConfigMap and emptyDir volumes", v.Name)
		}
		if err := os.Chown(hostDir, 0, int(*pod.SecurityContext.FSGroup)); err != nil {
			t.Fatal(err)
		}
		volumes[v.Name] = hostDir
	}
	var mounts []testenv.Mount
	for _, m := range c.VolumeMounts {
		mounts = append(mounts, testenv.Mount{Source: volumes[m.Name], Destination: m.MountPath, ReadOnly: m.ReadOnly})
	}
	xdsAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	adminAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env := []string{}
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	env = append(env, "DUBBOMESH_XDS_ADDRESS="+xdsAddr, "DUBBOMESH_ADMIN_ADDRESS="+adminAddr)
	sc := c.SecurityContext
	psc := pod.SecurityContext
	ctr := testenv.StartContainer(t, testenv.ContainerConfig{
		Image:        image,
		Args:         c.Args,
		Env:          env,
		UID:          uint32(*psc.RunAsUser),
		GID:          uint32(*psc.RunAsGroup),
		ReadOnlyRoot: *sc.ReadOnlyRootFilesystem,
		Mounts:       mounts,
	})

	xdstest.Eventually(t, 90*time.Second, func() error {
		if ctr.Exited() {
			t.Fatalf("the container exited:\n%s", ctr.Log())
		}
		code, body, err := httpGet(t.Context(), "http://"+adminAddr+c.ReadinessProbe.HTTPGet.Path)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("readiness %s: %d %q %v", c.ReadinessProbe.HTTPGet.Path, code, body, err)
		}
		return nil
	})
	if code, body, err := httpGet(t.Context(), "http://"+adminAddr+c.LivenessProbe.HTTPGet.Path); err != nil || code != http.StatusOK {
		t.Errorf("liveness %s: %d %q %v", c.LivenessProbe.HTTPGet.Path, code, body, err)
	}

	cc := xdstest.Dial(t, xdsAddr, greeterHost)
	want := fmt.Sprintf("greeter-provider@%d", provider.Port())
	xdstest.Eventually(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := xdstest.Call(ctx, cc, greetMethod, "runc")
		if err != nil {
			return err
		}
		if !strings.Contains(got, want) {
			return fmt.Errorf("reply %q is not from %s", got, want)
		}
		return nil
	})

	// The process is the pod's user with no capabilities, its root is
	// read-only, and it wrote nothing outside its volumes.
	pid := ctr.PID(t)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := map[string]string{
		"Uid":        fmt.Sprintf("%d\t%[1]d\t%[1]d\t%[1]d", *psc.RunAsUser),
		"Gid":        fmt.Sprintf("%d\t%[1]d\t%[1]d\t%[1]d", *psc.RunAsGroup),
		"CapEff":     "0000000000000000",
		"CapPrm":     "0000000000000000",
		"NoNewPrivs": "1",
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":\t"); ok {
			if _, asked := wantStatus[k]; asked {
				got[k] = v
			}
		}
	}
	if diff := cmp.Diff(wantStatus, got); diff != "" {
		t.Errorf("/proc/%d/status (-want +got):\n%s", pid, diff)
	}
	mountinfo, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !rootReadOnly(string(mountinfo)) {
		t.Errorf("the container's root is not mounted read-only:\n%s", mountinfo)
	}
	if log := ctr.Log(); strings.Contains(log, "read-only file system") {
		t.Errorf("the container tried to write outside its volumes:\n%s", log)
	}
}

// rootReadOnly reports whether the mount at / in a mountinfo has the ro
// option.
func rootReadOnly(mountinfo string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			return strings.HasPrefix(f[5], "ro,") || f[5] == "ro"
		}
	}
	return false
}

func httpGet(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
