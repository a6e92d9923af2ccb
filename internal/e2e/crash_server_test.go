package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/apiclient"
)

// trialServer is the real berth binary, killed with SIGKILL and started
// again on the same data dir and addresses. Its output goes to a file:
// a pipe nobody reads after a kill would block the next process.
type trialServer struct {
	t                  *testing.T
	exe, dir, log      string
	httpAddr, apiAddr  string
	cmd                *exec.Cmd
	exited             chan struct{} // closed once cmd is reaped
	c                  *apiclient.Client
	starts, startFails int
	// env is added to the server's environment at each start (a
	// failpoint: daemon.EnvFailpoint).
	env []string
}

func newTrialServer(t *testing.T, exe string) *trialServer {
	t.Helper()
	root := t.TempDir()
	s := &trialServer{t: t, exe: exe, dir: filepath.Join(root, "data"), log: filepath.Join(root, "server.log"),
		httpAddr: fixedAddr(t), apiAddr: fixedAddr(t)}
	t.Cleanup(s.stop)
	s.start()
	return s
}

// start starts the server and waits until its API answers (it restores
// routes and converges before it serves the API).
func (s *trialServer) start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== start %d at %s\n", s.starts+1, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.exe, "server", "--data-dir", s.dir, "--http-addr", s.httpAddr, "--api-addr", s.apiAddr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	s.starts++
	exited := make(chan struct{})
	s.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			s.t.Fatalf("berth server exited at start:\n%s", s.logTail())
		default:
		}
		if _, err := os.Stat(filepath.Join(s.dir, "admin-token")); err == nil {
			s.c = apiclient.New("http://"+s.apiAddr, readToken(s.t, s.dir))
			if _, err := s.c.Apps(context.Background()); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("berth server not answering within 60s:\n%s", s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fixedAddr is a free loopback address below the ephemeral port range
// (32768-60999 on Linux): while berth is down, a client dialing its port
// from an ephemeral port may get that very port as its source and
// connect to itself (TCP simultaneous open), holding it so that berth
// cannot listen there again.
func fixedAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port in 20000-32000")
	return ""
}

// kill sends SIGKILL and waits until the process is reaped: a process
// that lost its memory map (and so its command line) may not have
// closed its sockets yet.
func (s *trialServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.t.Fatalf("berth server %d still runs 5s after SIGKILL", s.cmd.Process.Pid)
	}
	if left := serverPIDs(s.dir); len(left) > 0 {
		s.t.Fatalf("berth server processes %v left after SIGKILL", left)
	}
}

// stop ends the server and checks that no process of it is left.
func (s *trialServer) stop() {
	if s.t.Failed() {
		s.t.Logf("server log (tail):\n%s", s.logTail())
	}
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(serverPIDs(s.dir)) > 0 {
		if time.Now().After(deadline) {
			for _, pid := range serverPIDs(s.dir) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			s.t.Errorf("berth server processes of %s left 30s after SIGTERM", s.dir)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *trialServer) logTail() string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-60):], "\n")
}
