package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvJavaProvider names the launcher of the Apache Dubbo Java test provider
// (test/java-provider), built by scripts/tools/javaprovider.sh into
// $DUBBOMESH_CACHE/tools/javaprovider-<hash of the project>/java-provider.
const EnvJavaProvider = "DUBBOMESH_JAVA_PROVIDER"

const (
	// javaProviderReady bounds a Java provider's start-up (the JVM, Dubbo,
	// registration: ~10-20 s here on a busy machine).
	javaProviderReady = 120 * time.Second
	// javaProviderReadyLine is printed by test/java-provider once its
	// services are exported and registered.
	javaProviderReadyLine = "java provider ready "
)

// Interfaces served by the Java provider: the same as examples/provider's,
// so that the same clients call either.
const (
	// JavaGreeterInterface is served as plain gRPC (protobuf StringValue),
	// path /dubbomesh.examples.greeter.Greeter/Greet.
	JavaGreeterInterface = "dubbomesh.examples.greeter.Greeter"
	// JavaUserInterface is IDL-less (hessian2 over Triple): GetUser(User,
	// String) User and SayHello(String) String.
	JavaUserInterface = "dubbomesh.examples.UserService"
)

// JavaProviderConfig configures one test/java-provider process.
type JavaProviderConfig struct {
	// Registry is Dubbo Java's registry URL, e.g.
	// "zookeeper://127.0.0.1:2181" or "nacos://127.0.0.1:8848" (required).
	Registry string
	// RegisterMode is Dubbo's register-mode: "all" (the default),
	// "interface" or "instance".
	RegisterMode string
	// MetadataType is "local" (the default: a MetadataService on
	// MetadataPort) or "remote" (MetadataInfo in the metadata report, no
	// MetadataService).
	MetadataType string
	Application  string // default "java-provider"
	Version      string // services' version; default "1.0.0"
	Group        string // services' group; empty = none
	Port         int    // Triple port; 0 = FreePort
	MetadataPort int    // MetadataService port; 0 = FreePort
}

// JavaProvider is a running Apache Dubbo Java 3.3 provider (plain
// DubboBootstrap, Triple) serving JavaGreeterInterface and
// JavaUserInterface on 127.0.0.1. Greet answers "hello <arg> from
// <app>@<port> v<version>" (and " group=<group>"), as examples/provider does.
type JavaProvider struct {
	cfg  JavaProviderConfig
	proc *process
}

var javaProviderLauncher once[string]

// JavaProviderBinary returns the launcher: $DUBBOMESH_JAVA_PROVIDER, or the
// one scripts/tools/javaprovider.sh built for this checkout's
// test/java-provider. It skips the test (or fails it, see Required) when
// there is none.
func JavaProviderBinary(t testing.TB) string {
	t.Helper()
	if v := os.Getenv(EnvJavaProvider); v != "" {
		if _, err := os.Stat(v); err == nil {
			return v
		}
		missing(t, "Java provider "+v, "run ./scripts/test.sh, which builds it")
	}
	p, err := javaProviderLauncher.do(cachedJavaProvider)
	if err != nil {
		missing(t, "Java provider", fmt.Sprintf("build it with ./scripts/test.sh (Maven, about 1 min cold) or set %s (%v)", EnvJavaProvider, err))
	}
	return p
}

// cachedJavaProvider finds the launcher built for this checkout's
// test/java-provider, keyed by javaProviderKey.
func cachedJavaProvider() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	key, err := javaProviderKey(filepath.Join(root, "test", "java-provider"))
	if err != nil {
		return "", err
	}
	p := filepath.Join(cacheDir(), "tools", "javaprovider-"+key, "java-provider")
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// javaProviderKey keys the build of the Maven project in src as
// scripts/tools/javaprovider.sh does: sha256 of the contents of its files
// except target/, in the byte order of their "./"-relative paths, first 12
// hex digits.
func javaProviderKey(src string) (string, error) {
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() && rel == "target" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, "./"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f)))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// cacheDir is $DUBBOMESH_CACHE, else the user's cache dir's dubbomesh/.
func cacheDir() string {
	if c := os.Getenv("DUBBOMESH_CACHE"); c != "" {
		return c
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "dubbomesh")
	}
	return filepath.Join(dir, "dubbomesh")
}

// StartJavaProvider runs test/java-provider with cfg as a child process,
// waits until it printed its ready line (exported and registered) and its
// Triple port accepts connections, and stops it (SIGTERM, then SIGKILL)
// when t ends. Java starts slowly: start one per registry layout and share
// it across subtests.
//
// Dubbo Java refuses 127.x as bind or registry address
// (NetUtils.isInvalidLocalHost), so the provider binds ::ffff:127.0.0.1
// (DUBBO_IP_TO_BIND) and registers 127.0.0.1 (the provider's
// LoopbackConfiguratorFactory). QoS is off and user.home is a temporary
// directory (Dubbo's and nacos-client's caches and logs go there).
func StartJavaProvider(t testing.TB, cfg JavaProviderConfig) *JavaProvider {
	t.Helper()
	if cfg.Registry == "" {
		t.Fatal("testenv: JavaProviderConfig.Registry is required")
	}
	if cfg.RegisterMode == "" {
		cfg.RegisterMode = "all"
	}
	if cfg.MetadataType == "" {
		cfg.MetadataType = "local"
	}
	if cfg.Application == "" {
		cfg.Application = "java-provider"
	}
	if cfg.Version == "" {
		cfg.Version = "1.0.0"
	}
	bin := JavaProviderBinary(t)
	p := &JavaProvider{cfg: cfg}
	logOnFailure(t, func() *process { return p.proc })
	t.Cleanup(func() {
		if p.proc != nil {
			_ = p.proc.stop(syscall.SIGTERM, 30*time.Second)
		}
	})
	dir := t.TempDir()
	pickPort, pickMeta := cfg.Port == 0, cfg.MetadataPort == 0
	for attempt := 1; ; attempt++ {
		if pickPort {
			p.cfg.Port = FreePort(t)
		}
		if pickMeta {
			p.cfg.MetadataPort = FreePort(t)
		}
		err := p.start(bin, dir, filepath.Join(dir, fmt.Sprintf("java-provider-%d.log", attempt)))
		if err == nil {
			return p
		}
		if (!pickPort && !pickMeta) || attempt == 3 || !errors.Is(err, errExited) {
			t.Fatalf("testenv: Java provider %s: %v", p.cfg.Application, err)
		}
		t.Logf("testenv: Java provider on ports %d/%d: %v; retrying", p.cfg.Port, p.cfg.MetadataPort, err)
	}
}

func (p *JavaProvider) start(bin, home, logPath string) error {
	c := p.cfg
	args := []string{bin,
		"--registry=" + c.Registry,
		"--register-mode=" + c.RegisterMode,
		"--metadata-type=" + c.MetadataType,
		"--app=" + c.Application,
		"--version=" + c.Version,
		"--group=" + c.Group,
		"--port=" + strconv.Itoa(c.Port),
		"--metadata-port=" + strconv.Itoa(c.MetadataPort),
	}
	javaOpts := strings.Join([]string{
		"-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-Duser.home=" + home,
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		// Graceful shutdown waits 10 s by default; tests stop providers idle.
		"-Ddubbo.service.shutdown.wait=1000",
	}, " ")
	env := []string{"DUBBO_IP_TO_BIND=::ffff:127.0.0.1", "JAVA_OPTS=" + javaOpts}
	proc, err := startProcess("java provider "+c.Application, logPath, env, args...)
	if err != nil {
		return err
	}
	p.proc = proc
	err = pollLineAndPort(proc, javaProviderReady, 100*time.Millisecond, logPath, javaProviderReadyLine, c.Port)
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 10*time.Second)
		return fmt.Errorf("%w\n%s", err, proc.logTail(4<<10))
	}
	return nil
}

// Port returns the provider's Triple port on 127.0.0.1.
func (p *JavaProvider) Port() int { return p.cfg.Port }

// MetadataPort returns the port its MetadataService was given (unused with
// MetadataType "remote": Dubbo Java then exports none).
func (p *JavaProvider) MetadataPort() int { return p.cfg.MetadataPort }

// Config returns the provider's configuration, defaults and ports filled in.
func (p *JavaProvider) Config() JavaProviderConfig { return p.cfg }

// Stop shuts the provider down with SIGTERM (Dubbo's shutdown hook
// unregisters it) and waits until it has exited.
func (p *JavaProvider) Stop(t testing.TB) {
	t.Helper()
	if p.proc.exited() {
		t.Fatalf("testenv: Java provider %s is not running", p.cfg.Application)
	}
	err := p.proc.stop(syscall.SIGTERM, 30*time.Second)
	// The JVM exits 143 (128+SIGTERM) after its shutdown hooks.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 128+int(syscall.SIGTERM)) {
		t.Errorf("testenv: Java provider %s: %v", p.cfg.Application, err)
	}
}
