package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// restartLoad is n clients sending GET / to host through the proxy as
// fast as they can, half on kept-alive connections and half on a new
// connection per request, recording failures and the longest request.
type restartLoad struct {
	total, failed, refused atomic.Int64
	longest                atomic.Int64 // ns
	firstFail, lastFail    atomic.Int64 // unix ns of the first and last failed request
	mu                     sync.Mutex
	errs                   []string
	cancel                 context.CancelFunc
	wg                     sync.WaitGroup
}

func startRestartLoad(proxyAddr, host string, n int) *restartLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &restartLoad{cancel: cancel}
	for i := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{DisableKeepAlives: i%2 == 1, MaxIdleConnsPerHost: 1,
				DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			for ctx.Err() == nil {
				start := time.Now()
				code, _, err := getWith(ctx, c, proxyAddr, host, "/")
				if ctx.Err() != nil {
					return
				}
				took := time.Since(start)
				for {
					cur := l.longest.Load()
					if int64(took) <= cur || l.longest.CompareAndSwap(cur, int64(took)) {
						break
					}
				}
				l.total.Add(1)
				if err != nil || code != http.StatusOK {
					l.failed.Add(1)
					now := time.Now().UnixNano()
					l.firstFail.CompareAndSwap(0, now)
					l.lastFail.Store(now)
					if err != nil && strings.Contains(err.Error(), "connection refused") {
						l.refused.Add(1)
					}
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, fmt.Sprintf("%d %v", code, err))
					}
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

func (l *restartLoad) stop() { l.cancel(); l.wg.Wait() }

// failingFor is the time from the first failed request to the last.
func (l *restartLoad) failingFor() time.Duration {
	if l.firstFail.Load() == 0 {
		return 0
	}
	return time.Duration(l.lastFail.Load() - l.firstFail.Load())
}

func (l *restartLoad) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d requests, %d failed (%d refused), longest %s, first errors %q",
		l.total.Load(), l.failed.Load(), l.refused.Load(), time.Duration(l.longest.Load()).Round(time.Millisecond), l.errs)
}

// crashServer is a berth server process that the test kills with
// SIGKILL and starts again at once, as systemd's Restart=always does:
// with its sockets held by the test and passed as systemd passes them
// (LISTEN_FDS, activated) or bound by berth itself.
type crashServer struct {
	t                      *testing.T
	bin, dir, log          string
	httpAddr, apiAddr      string
	activated              bool
	held                   []*os.File
	cmd                    *exec.Cmd
	c                      *apiclient.Client
	startedAt, answeringAt time.Time
}

func newCrashServer(t *testing.T, bin string, activated bool) *crashServer {
	t.Helper()
	root := t.TempDir()
	s := &crashServer{t: t, bin: bin, dir: filepath.Join(root, "data"), log: filepath.Join(root, "server.log"), activated: activated}
	if activated {
		for _, addr := range []*string{&s.httpAddr, &s.apiAddr} {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			f, err := ln.(*net.TCPListener).File()
			if err != nil {
				t.Fatal(err)
			}
			*addr = ln.Addr().String()
			s.held = append(s.held, f)
			t.Cleanup(func() { ln.Close(); f.Close() })
		}
	} else {
		s.httpAddr, s.apiAddr = freeAddr(t), freeAddr(t)
	}
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("server log (tail):\n%s", tail(string(b), 30))
		}
	})
	s.start()
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// start starts the server and waits until its API answers.
func (s *crashServer) start() {
	t := s.t
	t.Helper()
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := []string{"server", "--data-dir", s.dir, "--http-addr", s.httpAddr, "--api-addr", s.apiAddr}
	if s.activated {
		// LISTEN_PID must be the server's own pid: sh sets it and execs.
		s.cmd = exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, s.bin}, args...)...)
		s.cmd.Env = append(os.Environ(), "LISTEN_FDS=2", "LISTEN_FDNAMES=http:api")
		s.cmd.ExtraFiles = s.held
	} else {
		s.cmd = exec.Command(s.bin, args...)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.startedAt = time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, "server answering", func() bool {
		tok, err := os.ReadFile(filepath.Join(s.dir, "admin-token"))
		if err != nil {
			return false
		}
		s.c = apiclient.New("http://"+s.apiAddr, strings.TrimSpace(string(tok)))
		_, err = s.c.ServerInfo(context.Background())
		return err == nil
	})
	s.answeringAt = time.Now()
}

// crash kills the server with SIGKILL and starts it again at once; it
// returns how long until the new one answered.
func (s *crashServer) crash() time.Duration {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
	s.start()
	return s.answeringAt.Sub(s.startedAt)
}

// crashUnderLoad deploys an app on a new server, crashes it n times
// under load and returns the load's figures and the longest restart.
func crashUnderLoad(t *testing.T, bin string, activated bool, n int) (*restartLoad, time.Duration) {
	t.Helper()
	eng := requireDocker(t)
	s := newCrashServer(t, bin, activated)
	name, host := newApp(t, eng)
	if _, err := s.c.Deploy(context.Background(), loadApp(t, name, host, appOpts{Version: "v1"}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	l := startRestartLoad(s.httpAddr, host, 8)
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.total.Load() > 200 })
	var longest time.Duration
	for range n {
		longest = max(longest, s.crash())
		before := l.total.Load()
		testutil.Eventually(t, 30*time.Second, "requests answered after the restart", func() bool { return l.total.Load() > before+100 })
	}
	l.stop()
	return l, longest
}

// With its sockets held (systemd's socket activation), a berth server
// killed with SIGKILL and started again refuses no connection: new
// clients wait in the kernel's backlog; only requests in flight at the
// instant of the kill may fail.
func TestServer_KilledWithSocketActivationRefusesNoConnection(t *testing.T) {
	t.Parallel()
	const crashes, clients = 3, 8
	l, longest := crashUnderLoad(t, berthBinary(t), true, crashes)
	t.Logf("%d kill -9 with socket activation: %s; restart to answering up to %s", crashes, l, longest.Round(time.Millisecond))
	if l.refused.Load() != 0 {
		t.Errorf("connections refused while the sockets were held: %s", l)
	}
	// Each client has at most one request in flight when berth dies.
	if l.failed.Load() > crashes*clients {
		t.Errorf("more failures than requests in flight at the kills: %s", l)
	}
}

// bench-restart: failed requests and the longest wait a client saw
// across hand-offs, kill -9 with socket activation and kill -9 without.
func TestBenchRestart(t *testing.T) {
	if os.Getenv("BERTH_BENCH") == "" {
		t.Skip("a benchmark: make bench-restart")
	}
	eng := requireDocker(t)
	const n = 10

	bin := berthBinary(t)
	exe := filepath.Join(t.TempDir(), "berth")
	installBinary(t, bin, exe)
	hs := startHandoffServer(t, exe)
	name, host := newApp(t, eng)
	if _, err := hs.c.Deploy(context.Background(), loadApp(t, name, host, appOpts{Version: "v1"}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	l := startRestartLoad(hs.httpAddr, host, 8)
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.total.Load() > 200 })
	start := time.Now()
	for range n {
		hs.handOff()
	}
	took := time.Since(start)
	l.stop()
	fmt.Printf("bench-restart: (a) %d hand-offs (SIGHUP / berth server restart) in %s: %s\n", n, took.Round(time.Millisecond), l)

	la, ra := crashUnderLoad(t, bin, true, n)
	fmt.Printf("bench-restart: (b) %d kill -9 with socket activation: %s; restart to answering up to %s\n", n, la, ra.Round(time.Millisecond))
	lb, rb := crashUnderLoad(t, bin, false, n)
	fmt.Printf("bench-restart: (c) %d kill -9 without it: %s; restart to answering up to %s\n", n, lb, rb.Round(time.Millisecond))
}
