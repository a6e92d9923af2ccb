package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// buildBerthVersion builds berth with cli.Version set to version.
func buildBerthVersion(t *testing.T, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "berth")
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/berth-dev/berth/internal/cli.Version="+version, "-o", bin, "./cmd/berth")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build berth: %v\n%s", err, out)
	}
	return bin
}

// installBinary copies (or, over an existing one, replaces by rename, as
// a package upgrade does) the binary at dst.
func installBinary(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".new", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".new", dst); err != nil {
		t.Fatal(err)
	}
}

// handoffServer is a real berth server process that hands off: its
// processes change, so it is followed by the pid the API tells.
type handoffServer struct {
	t                *testing.T
	exe, dir, log    string
	httpAddr, apiURL string
	c                *apiclient.Client
}

func startHandoffServer(t *testing.T, exe string) *handoffServer {
	t.Helper()
	root := t.TempDir()
	s := &handoffServer{t: t, exe: exe, dir: filepath.Join(root, "data"), log: filepath.Join(root, "server.log"),
		httpAddr: freeAddr(t)}
	apiAddr := freeAddr(t)
	s.apiURL = "http://" + apiAddr
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// A file, not a pipe: successors inherit it and outlive this test's
	// reader of the first process.
	cmd := exec.Command(exe, "server", "--data-dir", s.dir, "--http-addr", s.httpAddr, "--api-addr", apiAddr, "--handoff-timeout", "60s")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }() // reaps the first process once it hands off
	t.Cleanup(s.stop)
	testutil.Eventually(t, 30*time.Second, "server answering", func() bool {
		if _, err := os.Stat(filepath.Join(s.dir, "admin-token")); err != nil {
			return false
		}
		s.c = apiclient.New(s.apiURL, readToken(t, s.dir))
		_, err := s.c.ServerInfo(context.Background())
		return err == nil
	})
	return s
}

// info is the serving process.
func (s *handoffServer) info() dto.ServerInfo {
	s.t.Helper()
	in, err := s.c.ServerInfo(context.Background())
	if err != nil {
		s.t.Fatalf("GET /api/v1/server: %v", err)
	}
	return in
}

// handOff asks for a hand-off and waits until another process serves.
func (s *handoffServer) handOff() dto.ServerInfo {
	s.t.Helper()
	old, err := s.c.RestartServer(context.Background())
	if err != nil {
		s.t.Fatalf("restart: %v", err)
	}
	var now dto.ServerInfo
	testutil.Eventually(s.t, 90*time.Second, "the successor serving", func() bool {
		in, err := s.c.ServerInfo(context.Background())
		if err != nil {
			return false
		}
		if in.PID == old.PID && in.LastHandoffError != old.LastHandoffError {
			s.t.Fatalf("the hand-off failed: %s\n%s", in.LastHandoffError, s.logTail())
		}
		now = in
		return in.PID != old.PID
	})
	return now
}

func (s *handoffServer) logTail() string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// stop ends the serving process and waits until every process of the
// server is gone (old ones end once they drained).
func (s *handoffServer) stop() {
	if s.t.Failed() {
		s.t.Logf("server log:\n%s", s.logTail())
		if b, err := os.ReadFile(s.log); err == nil {
			_ = os.WriteFile("/tmp/handoff-last.log", b, 0o644)
		}
	}
	if s.c != nil {
		if in, err := s.c.ServerInfo(context.Background()); err == nil {
			_ = syscall.Kill(in.PID, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if len(serverPIDs(s.dir)) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	var left []string
	for _, pid := range serverPIDs(s.dir) {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		left = append(left, string(stat))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	s.t.Errorf("berth server processes of %s did not end within 60s: %q", s.dir, left)
}

// serverPIDs are the live (not zombie) processes whose command line
// names dataDir.
func serverPIDs(dataDir string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dataDir+"\x00") {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// upgraded opens an upgraded connection to /ws through the proxy.
func upgraded(t *testing.T, proxyAddr, host string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", host)
	br := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return conn, br
}

// echo sends a line on an upgraded connection and reads it back.
func echo(conn net.Conn, br *bufio.Reader, line string) error {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return err
	}
	got, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return fmt.Errorf("echo %q, got %q", line, got)
	}
	return nil
}

// Twenty hand-offs in a row under constant load, new connections and
// kept-alive ones, lose no request: a 3 s request sent before one ends
// with its answer, an upgraded connection open across one keeps working
// after it, and the hand-off after the binary was replaced serves the
// new build. A successor that fails leaves the old process serving.
func TestServer_HandOffsUnderLoadDropNothing(t *testing.T) {
	eng := requireDocker(t)
	binA, binB := buildBerthVersion(t, "handoff-a"), buildBerthVersion(t, "handoff-b")
	exe := filepath.Join(t.TempDir(), "berth")
	installBinary(t, binA, exe)
	s := startHandoffServer(t, exe)
	name, host := newApp(t, eng)
	ctx := context.Background()
	if _, err := s.c.Deploy(ctx, loadApp(t, name, host, appOpts{Version: "v1"}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if in := s.info(); in.Version != "handoff-a" {
		t.Fatalf("version %q, want handoff-a", in.Version)
	}

	l := startLoad(s.httpAddr, host, 16)
	var fresh, freshFailed atomic.Int64
	var freshErr atomic.Value
	fctx, stopFresh := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	for range 4 { // a new connection per request
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
			for fctx.Err() == nil {
				code, body, err := getWith(fctx, c, s.httpAddr, host, "/")
				if fctx.Err() != nil {
					return
				}
				fresh.Add(1)
				if err != nil || code != 200 || body != "v1" {
					freshFailed.Add(1)
					freshErr.Store(fmt.Sprintf("%d %q %v", code, body, err))
				}
			}
		}()
	}
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.count("v1") > 200 && fresh.Load() > 20 })

	const handOffs = 20
	slow := make(chan string, 1)
	var ws net.Conn
	var wsr *bufio.Reader
	start := time.Now()
	for i := 1; i <= handOffs; i++ {
		switch i {
		case 5: // a request that takes 3 s, sent to the process that hands off
			go func() {
				code, body, err := getWith(ctx, &http.Client{Timeout: 30 * time.Second}, s.httpAddr, host, "/slow?ms=3000")
				slow <- fmt.Sprintf("%d %s %v", code, body, err)
			}()
			testutil.Eventually(t, 5*time.Second, "the slow request in flight", func() bool { return inFlight(t, s, name) > 0 })
		case 8:
			ws, wsr = upgraded(t, s.httpAddr, host)
			if err := echo(ws, wsr, "before"); err != nil {
				t.Fatal(err)
			}
		case 12: // an upgrade: the next process is the new build
			installBinary(t, binB, exe)
		}
		in := s.handOff()
		want := "handoff-a"
		if i >= 12 {
			want = "handoff-b"
		}
		if in.Version != want {
			t.Fatalf("hand-off %d: version %q, want %q", i, in.Version, want)
		}
		if i == 8 {
			if err := echo(ws, wsr, "after"); err != nil {
				t.Fatalf("the upgraded connection after the hand-off: %v", err)
			}
			ws.Close()
		}
	}
	took := time.Since(start)
	if got := <-slow; got != "200 v1 <nil>" {
		t.Errorf("the 3 s request across a hand-off: %s", got)
	}

	// A successor that cannot start: the old process serves on.
	broken := filepath.Join(t.TempDir(), "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'broken build' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := s.info()
	installBinary(t, broken, exe)
	if _, err := s.c.RestartServer(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the failed hand-off reported", func() bool {
		in, err := s.c.ServerInfo(ctx)
		return err == nil && in.LastHandoffError != ""
	})
	after := s.info()
	if after.PID != before.PID || !strings.Contains(after.LastHandoffError, "exit status 3") {
		t.Errorf("after a failed hand-off: %+v (before %+v)", after, before)
	}
	// And the API still changes things.
	if _, err := s.c.Deploy(ctx, loadApp(t, name, host, appOpts{Version: "v1"}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy after the failed hand-off: %v", err)
	}

	stopFresh()
	fwg.Wait()
	l.stop()
	t.Logf("%d hand-offs in %s; keep-alive load: %s; new connections: %d, %d failed",
		handOffs, took.Round(time.Millisecond), l.summary(), fresh.Load(), freshFailed.Load())
	if l.failed.Load() != 0 || freshFailed.Load() != 0 {
		t.Fatalf("requests failed across hand-offs: %s; new connections %d failed (last: %v)", l.summary(), freshFailed.Load(), freshErr.Load())
	}
}

// inFlight is how many requests the app's live pool has in flight.
func inFlight(t *testing.T, s *handoffServer, app string) int64 {
	st, err := s.c.Status(context.Background(), app, spec.DefaultEnv)
	if err != nil {
		return 0
	}
	var n int64
	for _, sv := range st.Services {
		for _, c := range sv.Containers {
			n += c.InFlight
		}
	}
	return n
}

func getWith(ctx context.Context, c *http.Client, proxyAddr, host, path string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+proxyAddr+path, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
