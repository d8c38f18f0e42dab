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

	"github.com/go-zookeeper/zk"
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
	zk := testenv.StartZooKeeper(t)
	provider := testenv.StartProvider(t, testenv.ProviderConfig{Registry: "zookeeper://" + zk.Addr()})
	runImage(t, provider, nil, "--set", "registries[0].url=zookeeper://"+zk.Addr())
}

// TestImageUnderRuncWithSecrets: the registry password and the admin token
// come from the Secrets the chart mounts (the URL gets passwordFile=, the
// config admin.tokenFile), against a ZooKeeper whose Dubbo root only a
// digest user may read.
func TestImageUnderRuncWithSecrets(t *testing.T) {
	zk := testenv.StartZooKeeper(t)
	provider := testenv.StartProvider(t, testenv.ProviderConfig{Registry: "zookeeper://" + zk.Addr(), Register: "interface"})
	securedRoot(t, zk.Addr(), "secured", "reader", "reader-pw")
	admin := runImage(t, provider, map[string]map[string]string{
		"zk-reader":   {"password": "reader-pw\n"},
		"admin-token": {"token": "t0ken\n"},
	},
		"--set", "registries[0].url=zookeeper://"+zk.Addr()+"?root=secured&username=reader",
		"--set", "registries[0].passwordSecret.name=zk-reader",
		"--set", "registries[0].passwordSecret.key=password",
		"--set", "admin.tokenSecret.name=admin-token",
		"--set", "admin.tokenSecret.key=token")
	// A state-changing admin route needs the token on every address.
	for _, tc := range []struct {
		auth string
		want int
	}{{"", http.StatusUnauthorized}, {"Bearer wrong", http.StatusUnauthorized}, {"Bearer t0ken", 0}} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+admin+"/ui/api/routing", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch {
		case tc.want != 0 && resp.StatusCode != tc.want:
			t.Errorf("POST /ui/api/routing with %q = %d, want %d", tc.auth, resp.StatusCode, tc.want)
		case tc.want == 0 && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
			t.Errorf("POST /ui/api/routing with the mounted token = %d, want it past the token check", resp.StatusCode)
		}
	}
}

// securedRoot copies the provider nodes of the Greeter from /dubbo to a
// root /{root} that only the digest user may read (and an admin change).
func securedRoot(t *testing.T, addr, root, user, password string) {
	t.Helper()
	conn, _, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := conn.AddAuth("digest", []byte("admin:admin-pw")); err != nil {
		t.Fatal(err)
	}
	const dir = "/dubbomesh.examples.greeter.Greeter/providers"
	var kids []string
	xdstest.Eventually(t, 60*time.Second, func() error {
		kids, _, err = conn.Children("/dubbo" + dir)
		if err == nil && len(kids) == 0 {
			err = fmt.Errorf("no provider under /dubbo%s yet", dir)
		}
		return err
	})
	acl := append(zk.DigestACL(zk.PermAll, "admin", "admin-pw"), zk.DigestACL(zk.PermRead, user, password)...)
	for _, p := range []string{"/" + root, "/" + root + "/dubbomesh.examples.greeter.Greeter", "/" + root + dir} {
		if _, err := conn.Create(p, nil, 0, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	for _, k := range kids {
		if _, err := conn.Create("/"+root+dir+"/"+k, nil, 0, acl); err != nil {
			t.Fatalf("create %s: %v", k, err)
		}
	}
}

// runImage runs the image under runc with what the chart renders for
// setArgs (secrets: Secret name → key → content, for the Secret volumes it
// mounts) and checks that it serves provider; it returns the admin address.
func runImage(t *testing.T, provider *testenv.Provider, secrets map[string]map[string]string, setArgs ...string) string {
	t.Helper()
	image := testenv.ImageLayout(t)
	testenv.RuncBinary(t)

	objs := objects(t, setArgs...)
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
		case v.Secret != nil:
			data, ok := secrets[v.Secret.SecretName]
			if !ok {
				t.Fatalf("volume %s: the test has no Secret %q", v.Name, v.Secret.SecretName)
			}
			files := map[string]string{} // file → key
			for k := range data {
				files[k] = k
			}
			if len(v.Secret.Items) > 0 {
				files = map[string]string{}
				for _, it := range v.Secret.Items {
					files[it.Path] = it.Key
				}
			}
			for file, key := range files {
				b, ok := data[key]
				if !ok {
					t.Fatalf("volume %s: Secret %q has no key %q", v.Name, v.Secret.SecretName, key)
				}
				f := filepath.Join(hostDir, file)
				if err := os.WriteFile(f, []byte(b), 0o640); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(f, 0, int(*pod.SecurityContext.FSGroup)); err != nil {
					t.Fatal(err)
				}
			}
		case v.EmptyDir != nil:
		default:
			t.Fatalf("volume %s: the test knows only ConfigMap, Secret and emptyDir volumes", v.Name)
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
	for _, secret := range secrets {
		for _, v := range secret {
			if v = strings.TrimSpace(v); strings.Contains(ctr.Log(), v) {
				t.Errorf("the container's log shows a secret (%.2s...):\n%s", v, ctr.Log())
			}
		}
	}
	return adminAddr
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
