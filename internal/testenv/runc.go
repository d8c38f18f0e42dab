package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Environment variables of the image test.
const (
	// EnvRunc names the runc binary (Debian's runc, scripts/tools/runc.sh).
	EnvRunc = "DUBBOMESH_RUNC"
	// EnvImage names the OCI image layout of dubbomesh's image that
	// scripts/image.sh built (scripts/test.sh builds it for the tests).
	EnvImage = "DUBBOMESH_IMAGE"
)

// ImageLayout returns $DUBBOMESH_IMAGE, the OCI image layout directory. It
// skips the test (or fails it, see Required) when there is none.
func ImageLayout(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvImage)
	if dir == "" {
		missing(t, "dubbomesh image", "build it with scripts/image.sh DIR and set "+EnvImage+"=DIR/oci")
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		missing(t, "dubbomesh image "+dir, "build it with scripts/image.sh: "+err.Error())
	}
	return dir
}

// RuncBinary returns runc: $DUBBOMESH_RUNC, or runc in PATH. It skips the
// test (or fails it, see Required) when there is none or when the test does
// not run as root (runc needs it here).
func RuncBinary(t testing.TB) string {
	t.Helper()
	p, ok := lookPath(EnvRunc, "runc")
	if !ok {
		missing(t, "runc", "apt-get install runc or set "+EnvRunc)
	}
	if os.Geteuid() != 0 {
		missing(t, "root (runc runs the container as root)", "run the tests as root")
	}
	return p
}

// A Mount is a bind mount into a container.
type Mount struct {
	Source, Destination string
	ReadOnly            bool
}

// ContainerConfig is what a pod spec says about one container, in OCI
// terms.
type ContainerConfig struct {
	// Image is an OCI image layout directory (see ImageLayout); its first
	// manifest is run.
	Image string
	// Args replace the image's Cmd (Kubernetes' args); the image's
	// Entrypoint runs them.
	Args []string
	// Env is added to the image's environment, later entries winning.
	Env []string
	// UID and GID run the process (runAsUser, runAsGroup).
	UID, GID uint32
	// ReadOnlyRoot mounts the image's root file system read-only.
	ReadOnlyRoot bool
	Mounts       []Mount
}

// Container is a running runc container. It shares the host's network
// namespace: whatever it listens on must be a loopback address.
type Container struct {
	id    string
	runc  string
	state string
	proc  *process
}

// StartContainer unpacks cfg.Image into an OCI bundle and runs it under
// runc with runc's default spec (`runc spec`: new pid, ipc, uts and mount
// namespaces, no capabilities beyond the default set, masked /proc paths),
// changed as a pod's securityContext asks: the user, a read-only root, no
// capabilities at all, no new privileges; and without a network namespace.
// It is stopped and deleted when the test ends.
func StartContainer(t testing.TB, cfg ContainerConfig) *Container {
	t.Helper()
	bin := RuncBinary(t)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	img, err := UnpackImage(cfg.Image, filepath.Join(bundle, "rootfs"))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	spec, err := containerSpec(bin, bundle, img, cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), spec, 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c := &Container{
		id:    "dubbomesh-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		runc:  bin,
		state: filepath.Join(dir, "state"),
	}
	logOnFailure(t, func() *process { return c.proc })
	t.Cleanup(func() { c.Stop(t) })
	proc, err := startProcess("runc", filepath.Join(dir, "container.log"), nil,
		bin, "--root", c.state, "run", "--bundle", bundle, c.id)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c.proc = proc
	return c
}

// Exited reports whether the container's process has exited.
func (c *Container) Exited() bool { return c.proc.exited() }

// PID is the host pid of the container's process (runc state).
func (c *Container) PID(t testing.TB) int {
	t.Helper()
	out, err := exec.Command(c.runc, "--root", c.state, "state", c.id).Output()
	if err != nil {
		t.Fatalf("testenv: runc state %s: %v", c.id, err)
	}
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Pid == 0 {
		t.Fatalf("testenv: runc state %s: %v %s", c.id, err, out)
	}
	return st.Pid
}

// Log returns the container's output so far.
func (c *Container) Log() string { return c.proc.logTail(64 << 10) }

// Stop sends SIGTERM (runc forwards it), waits up to 10 s, then removes the
// container. Stopping twice is fine.
func (c *Container) Stop(t testing.TB) {
	t.Helper()
	if c.proc == nil {
		return
	}
	if err := c.proc.stop(syscall.SIGTERM, 10*time.Second); err != nil && !c.proc.exited() {
		t.Logf("testenv: container %s: %v", c.id, err)
	}
	if out, err := exec.Command(c.runc, "--root", c.state, "delete", "--force", c.id).CombinedOutput(); err != nil &&
		!bytes.Contains(out, []byte("does not exist")) {
		t.Logf("testenv: runc delete %s: %v: %s", c.id, err, out)
	}
}

// containerSpec is runc's default spec for bundle, changed as StartContainer
// says.
func containerSpec(runc, bundle string, img ImageConfig, cfg ContainerConfig) ([]byte, error) {
	cmd := exec.Command(runc, "spec", "--bundle", bundle)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("runc spec: %w: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("runc spec: %w", err)
	}
	args := append(append([]string{}, img.Entrypoint...), cfg.Args...)
	if cfg.Args == nil {
		args = append(args, img.Cmd...)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("image %s: no entrypoint and no args", cfg.Image)
	}
	cwd := img.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = args
	proc["env"] = append(append([]string{}, img.Env...), cfg.Env...)
	proc["cwd"] = cwd
	proc["user"] = map[string]any{"uid": cfg.UID, "gid": cfg.GID}
	proc["noNewPrivileges"] = true
	empty := []string{}
	proc["capabilities"] = map[string]any{"bounding": empty, "effective": empty, "permitted": empty}
	spec["root"] = map[string]any{"path": "rootfs", "readonly": cfg.ReadOnlyRoot}
	mounts := spec["mounts"].([]any)
	for _, m := range cfg.Mounts {
		opts := []string{"rbind", "nosuid", "nodev"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		mounts = append(mounts, map[string]any{"destination": m.Destination, "type": "bind", "source": m.Source, "options": opts})
	}
	spec["mounts"] = mounts
	linux := spec["linux"].(map[string]any)
	var namespaces []any
	for _, ns := range linux["namespaces"].([]any) {
		if ns.(map[string]any)["type"] != "network" {
			namespaces = append(namespaces, ns)
		}
	}
	linux["namespaces"] = namespaces
	return json.MarshalIndent(spec, "", "  ")
}
