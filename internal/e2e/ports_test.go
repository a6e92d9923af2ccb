package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/go-connections/nat"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

var (
	echoImageOnce sync.Once
	echoImageRef  enginetest.TestImage
)

// echoImage is the test image under a tag of these tests' own: the
// shared tag may be rebuilt meanwhile from another tree's testapp, which
// may not have the echo command yet.
func echoImage(t *testing.T) enginetest.TestImage {
	t.Helper()
	echoImageOnce.Do(func() { echoImageRef = enginetest.BuildTestImage(t, "berth-e2e-echo:latest") })
	if echoImageRef.Ref == "" {
		t.Fatal("test image was not built")
	}
	return echoImageRef
}

// freePort returns a loopback TCP port that is free now (and its UDP
// twin, most likely).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func echoApp(t *testing.T, name string, port int, version string) *spec.App {
	t.Helper()
	return echoAppWith(t, name, port, version, 7000, "")
}

// echoAppWith is echoApp on container port target, with more x-berth
// settings (YAML flow items).
func echoAppWith(t *testing.T, name string, port int, version string, target int, xberth string) *spec.App {
	t.Helper()
	y := fmt.Sprintf(`name: %s
services:
  echo:
    image: %s
    command: ["echo"]
    environment: { VERSION: %q, ECHO_PORT: "%d" }
    stop_grace_period: 2s
    ports:
      - "127.0.0.1:%d:%d"
      - "127.0.0.1:%d:%d/udp"
    x-berth: { drain_timeout: 3s, hosts: [] %s }
`, name, echoImage(t).Ref, version, target, port, target, port, target, xberth)
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, y)
	}
	if len(app.Warnings) > 0 {
		t.Errorf("warnings: %q", app.Warnings)
	}
	return app
}

// line is one line-echo exchange on c.
func line(c net.Conn, r *bufio.Reader, s string) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", s); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return strings.TrimSpace(got), err
}

type echoConn struct {
	net.Conn
	r *bufio.Reader
}

func dialEcho(t *testing.T, addr string) echoConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return echoConn{c, bufio.NewReader(c)}
}

// echoLoad opens new connections to addr without pause, each one
// exchange, counting the ones that fail and the answers' versions.
type echoLoad struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	versions   map[string]int
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startEchoLoad(addr string, workers int) *echoLoad {
	l := &echoLoad{versions: map[string]int{}, stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err == nil {
					var got string
					got, err = line(c, bufio.NewReader(c), "ping")
					c.Close()
					if err == nil && !strings.HasSuffix(got, " ping") {
						err = fmt.Errorf("answer %q", got)
					}
					if err == nil {
						l.ok.Add(1)
						l.mu.Lock()
						l.versions[strings.Fields(got)[0]]++
						l.mu.Unlock()
						continue
					}
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.errs) < 5 {
					l.errs = append(l.errs, err.Error())
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *echoLoad) saw(version string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.versions[version] > 0
}

func (l *echoLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// A service on ports: is redeployed and rolled back under a constant
// stream of new connections, through berth's own listener on the host
// port: none is refused, a long connection of the old release goes on
// until it ends, one that does not end is cut at the drain timeout, and
// the deployment counts them. After a restart of berth the port is
// published again.
func TestPorts_RedeployUnderConnectionsRefusesNone(t *testing.T) {
	eng := requireDocker(t)
	t.Parallel()
	srv := startServer(t, t.TempDir())
	name, _ := newApp(t, eng)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	if _, err := srv.deploy(t, echoApp(t, name, port, "v1")); err != nil {
		t.Fatal(err)
	}
	c := dialEcho(t, addr)
	if got, err := line(c, c.r, "hello"); err != nil || got != "v1 hello" {
		t.Fatalf("after the first deploy: %q, %v", got, err)
	}
	u, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(5 * time.Second))
	u.Write([]byte("datagram"))
	b := make([]byte, 100)
	if n, err := u.Read(b); err != nil || string(b[:n]) != "v1 datagram" {
		t.Errorf("udp: %q, %v; want \"v1 datagram\"", b[:n], err)
	}

	for i, to := range []string{"v2", "v1"} {
		ends := dialEcho(t, addr)  // ends by itself after the switch
		stays := dialEcho(t, addr) // stays open: cut at the drain timeout
		from := "v1"
		if to == "v1" {
			from = "v2"
		}
		for _, lc := range []echoConn{ends, stays} {
			if got, err := line(lc, lc.r, "long"); err != nil || got != from+" long" {
				t.Fatalf("long connection: %q, %v", got, err)
			}
		}
		load := startEchoLoad(addr, 4)
		type result struct {
			dep *dto.Deployment
			err error
		}
		done := make(chan result, 1)
		go func() {
			var r result
			if i == 0 {
				r.dep, r.err = srv.deploy(t, echoApp(t, name, port, to))
			} else {
				r.dep, r.err = srv.rollback(t, name, 0)
			}
			done <- r
		}()
		deadline := time.Now().Add(60 * time.Second)
		for !load.saw(to) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got, err := line(ends, ends.r, "still"); err != nil || got != from+" still" {
			t.Errorf("%s: long connection after the switch: %q, %v; want it kept on %s", to, got, err, from)
		}
		ends.Close()
		r := <-done
		load.end()
		if r.err != nil {
			t.Fatalf("%s: %v", to, r.err)
		}
		if n := load.failed.Load(); n != 0 {
			t.Errorf("%s: %d of %d connections failed during the deploy (%q); want 0", to, n, n+load.ok.Load(), load.errs)
		}
		if !load.saw(to) {
			t.Errorf("%s: no connection reached the new release", to)
		}
		stays.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := stays.r.ReadString('\n'); err == nil {
			t.Errorf("%s: the long connection that never ended was not cut at the drain timeout", to)
		}
		// The drain goes on after the deploy returned; its cut is added
		// to the deployment's tally once it ended.
		d := r.dep
		testutil.Eventually(t, 30*time.Second, "the drain's cut in the deployment's tally", func() bool {
			d = srv.deployment(t, name, r.dep.ID)
			return d.ConnectionsCut >= 1
		})
		// The load ran from before the deploy to after it: the tally
		// holds the connections that began while the deploy ran.
		if most := uint64(load.ok.Load()) + 4; !d.ConnectionsCounted || d.Connections == 0 || d.Connections > most || d.ConnectionsCut < 1 || d.ConnectionsFailed != 0 {
			t.Errorf("%s: tally: counted %t, %d connections served, %d cut, %d refused; want counted, 1 to %d served, ≥ 1 cut, 0 refused", to, d.ConnectionsCounted, d.Connections, d.ConnectionsCut, d.ConnectionsFailed, most)
		}
		t.Logf("%s: %d connections served during the %s, %d cut, %d refused", to, d.Connections, d.Kind, d.ConnectionsCut, d.ConnectionsFailed)
	}

	// berth restarts: the listener comes back for the live release.
	srv.stop()
	srv = startServer(t, srv.dataDir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		cc, err := net.Dial("tcp", addr)
		if err == nil {
			got, err := line(cc, bufio.NewReader(cc), "back")
			cc.Close()
			if err == nil && got == "v1 back" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a restart of berth, %s does not answer: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEcho waits until addr answers a line echo with want.
func waitEcho(t *testing.T, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var c net.Conn
		if c, err = net.Dial("tcp", addr); err == nil {
			var got string
			got, err = line(c, bufio.NewReader(c), "x")
			c.Close()
			if err == nil && got == want+" x" {
				return
			}
			if err == nil {
				err = fmt.Errorf("answer %q", got)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s does not answer %q: %v", addr, want, err)
}

// x-berth.publish: direct publishes the port on the container, as
// docker compose does, and replaces it stop-first, saying so.
func TestPorts_DirectPublishBindsTheContainer(t *testing.T) {
	eng := requireDocker(t)
	t.Parallel()
	srv := startServer(t, t.TempDir())
	name, _ := newApp(t, eng)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if _, err := srv.deploy(t, echoAppWith(t, name, port, "v1", 7000, ", publish: direct")); err != nil {
		t.Fatal(err)
	}
	waitEcho(t, addr, "v1")
	ctx := context.Background()
	cs, err := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name})
	if err != nil || len(cs) != 1 {
		t.Fatalf("containers: %+v, %v", cs, err)
	}
	ci, err := eng.Client().ContainerInspect(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"7000/tcp", "7000/udp"} {
		b := ci.HostConfig.PortBindings[nat.Port(p)]
		if len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != strconv.Itoa(port) {
			t.Errorf("port bindings of %s: %+v; want 127.0.0.1:%d", p, b, port)
		}
	}
	var said []string
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dep, err := srv.client.Deploy(ctx2, echoAppWith(t, name, port, "v2", 7000, ", publish: direct"), spec.DefaultEnv, dto.DeployOptions{}, func(p dto.Progress) {
		said = append(said, p.Message)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, "it is down until the new one starts") }) {
		t.Errorf("the deploy did not say the service is down meanwhile: %q", said)
	}
	if dep.ConnectionsCounted {
		t.Errorf("a directly published port was counted as berth's listener's")
	}
	waitEcho(t, addr, "v2")
}

// A host port berth already publishes for another app is refused
// before anything starts, naming the other app's service.
func TestPorts_HeldByAnotherAppIsRefused(t *testing.T) {
	eng := requireDocker(t)
	t.Parallel()
	srv := startServer(t, t.TempDir())
	first, _ := newApp(t, eng)
	second, _ := newApp(t, eng)
	port := freePort(t)
	if _, err := srv.deploy(t, echoApp(t, first, port, "v1")); err != nil {
		t.Fatal(err)
	}
	_, err := srv.deploy(t, echoApp(t, second, port, "v1"))
	want := fmt.Sprintf(`berth already publishes host port 127.0.0.1:%d/tcp for service "echo" of %s/production`, port, first)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("deploy of a second app on the port: %v; want it refused with %q", err, want)
	}
	cs, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: second})
	if len(cs) != 0 {
		t.Errorf("the refused app started %d container(s)", len(cs))
	}
	waitEcho(t, fmt.Sprintf("127.0.0.1:%d", port), "v1")
	st, err := srv.client.Status(context.Background(), first, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 1 || len(st.Services[0].Published) != 2 || st.Services[0].Published[0].Addr != fmt.Sprintf("127.0.0.1:%d", port) || st.Services[0].Published[0].Served == 0 {
		t.Errorf("status of the published ports: %+v", st.Services)
	}

	// Removing the first app frees the port: the second may publish it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := srv.client.RemoveEnv(ctx, first, spec.DefaultEnv, dto.RemoveRequest{}, nil); err != nil {
		t.Fatalf("remove %s: %v", first, err)
	}
	if _, err := srv.deploy(t, echoApp(t, second, port, "v2")); err != nil {
		t.Fatalf("deploy on the port of a removed app: %v", err)
	}
	waitEcho(t, fmt.Sprintf("127.0.0.1:%d", port), "v2")
}

// A release that changes the container port behind a host port takes
// the listener over: the host port is never unbound.
func TestPorts_NewTargetPortKeepsTheHostPort(t *testing.T) {
	eng := requireDocker(t)
	t.Parallel()
	srv := startServer(t, t.TempDir())
	name, _ := newApp(t, eng)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if _, err := srv.deploy(t, echoApp(t, name, port, "v1")); err != nil {
		t.Fatal(err)
	}
	waitEcho(t, addr, "v1")
	load := startEchoLoad(addr, 2)
	dep, err := srv.deploy(t, echoAppWith(t, name, port, "v2", 7001, ""))
	load.end()
	if err != nil {
		t.Fatal(err)
	}
	if n := load.failed.Load(); n != 0 {
		t.Errorf("%d of %d connections failed (%q); want 0", n, n+load.ok.Load(), load.errs)
	}
	if !dep.ConnectionsCounted || dep.Connections == 0 {
		t.Errorf("tally: counted %t, %d served", dep.ConnectionsCounted, dep.Connections)
	}
	waitEcho(t, addr, "v2")
}

// A service moves from berth's listener to x-berth.publish: direct and
// back, each time stop-first on the same host port, saying so.
func TestPorts_ModeChangesKeepTheHostPort(t *testing.T) {
	eng := requireDocker(t)
	t.Parallel()
	srv := startServer(t, t.TempDir())
	name, _ := newApp(t, eng)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for _, step := range []struct{ version, xberth, says string }{
		{"v1", "", ""},
		{"v2", ", publish: direct", "releasing host port"},
		{"v3", "", "stopping it first so that berth's listener can take the ports"},
	} {
		var said []string
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err := srv.client.Deploy(ctx, echoAppWith(t, name, port, step.version, 7000, step.xberth), spec.DefaultEnv, dto.DeployOptions{}, func(p dto.Progress) {
			said = append(said, p.Message)
		})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", step.version, err, strings.Join(said, "\n"))
		}
		if step.says != "" && !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, step.says) }) {
			t.Errorf("%s: the deploy did not say %q:\n%s", step.version, step.says, strings.Join(said, "\n"))
		}
		waitEcho(t, addr, step.version)
	}
}

// A port without published gets a host port berth picks, printed by the
// deploy, listed by status, and bound again after a restart of berth.
func TestPorts_PickedPortSurvivesARestart(t *testing.T) {
	eng := requireDocker(t)
	t.Parallel()
	srv := startServer(t, t.TempDir())
	name, _ := newApp(t, eng)
	y := fmt.Sprintf("name: %s\nservices:\n  echo:\n    image: %s\n    command: [\"echo\"]\n    environment: { VERSION: v1 }\n    ports: [\"127.0.0.1::7000\"]\n    x-berth: { hosts: [] }\n", name, echoImage(t).Ref)
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := srv.client.Deploy(ctx, app, spec.DefaultEnv, dto.DeployOptions{}, func(p dto.Progress) { said = append(said, p.Message) }); err != nil {
		t.Fatal(err)
	}
	addrOf := func() string {
		st, err := srv.client.Status(ctx, name, spec.DefaultEnv)
		if err != nil || len(st.Services) != 1 || len(st.Services[0].Published) != 1 {
			t.Fatalf("status: %+v, %v", st.Services, err)
		}
		return st.Services[0].Published[0].Addr
	}
	addr := addrOf()
	if !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, "published on "+addr+" (berth picked it") }) {
		t.Errorf("the deploy did not print the port it picked (%s):\n%s", addr, strings.Join(said, "\n"))
	}
	waitEcho(t, addr, "v1")
	srv.stop()
	srv = startServer(t, srv.dataDir)
	if again := addrOf(); again != addr {
		t.Errorf("after a restart the port is %s; want %s again", again, addr)
	}
	waitEcho(t, addr, "v1")
}
