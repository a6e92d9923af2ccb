package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A hand-off (SIGHUP, or POST /api/v1/server/restart) replaces this
// server process by a new one started from the same binary path (a new
// build when the file was replaced: that is an upgrade) without closing
// a listening socket, so no client is refused:
//
//  1. the API's listener stops accepting (its clients wait in the
//     kernel's backlog), the changes in flight finish, and the core
//     waits until no deployment, drain or build is running;
//  2. the core closes (the store's lock is released); the proxy goes on
//     serving from its routes;
//  3. the successor starts with the sockets (BERTH_HANDOFF_FDS) and a
//     pipe (BERTH_HANDOFF_READY); it opens the store, restores and
//     health-checks every route, starts serving, and writes "ready";
//  4. this process stops accepting, finishes the requests in flight,
//     keeps long connections up to the drain timeout, and ends.
//
// When the successor fails (it exits, or is not ready by the deadline)
// it is killed, the core opens again and the API accepts again: this
// process goes on serving, and the log says why.

const envHandoffReady = "BERTH_HANDOFF_READY"

// DefaultHandoffTimeout bounds a hand-off's wait for the server to be
// idle and for the successor to be ready.
const DefaultHandoffTimeout = 2 * time.Minute

// namedSocket is a listening socket to pass, with its flag's name.
type namedSocket struct {
	name string
	ln   net.Listener
}

// socketFile returns a descriptor of ln to pass to a child.
func socketFile(ln net.Listener) (*os.File, error) {
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("listener %s cannot be passed on", ln.Addr())
	}
	return fl.File()
}

// setNonblock puts ln's socket in non-blocking mode.
func setNonblock(ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), true) }); err != nil {
		return err
	}
	return serr
}

// successor is a new server process being started.
type successor struct {
	cmd   *exec.Cmd
	ready chan error // one value: nil when ready, else why not
}

// startSuccessor starts exe with args, the sockets and a readiness pipe;
// its ready channel answers within timeout.
func startSuccessor(exe string, args []string, socks []namedSocket, timeout time.Duration, log *slog.Logger) (*successor, error) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var fds []string
	for i, s := range socks {
		f, err := socketFile(s.ln)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		fds = append(fds, fmt.Sprintf("%s=%d", s.name, listenFDStart+i))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	files = append(files, w)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	cmd.Env = append(handoffEnv(os.Environ()),
		envHandoffFDs+"="+strings.Join(fds, ","),
		envHandoffReady+"="+strconv.Itoa(listenFDStart+len(socks)))
	err = cmd.Start()
	// Passing a descriptor (os.File.Fd) puts the socket, which this
	// process shares, in blocking mode: its Accept would no longer wake
	// for a deadline or a close. Back to non-blocking, as the poller
	// needs (the successor does the same on its side).
	for _, s := range socks {
		if nerr := setNonblock(s.ln); nerr != nil {
			log.Warn("hand-off: socket back to non-blocking", "socket", s.name, "error", nerr)
		}
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	log.Info("hand-off: successor started", "pid", cmd.Process.Pid, "binary", exe)
	s := &successor{cmd: cmd, ready: make(chan error, 1)}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	line := make(chan string, 1)
	go func() {
		defer r.Close()
		l, _ := bufio.NewReader(r).ReadString('\n')
		line <- l
	}()
	go func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case l := <-line:
			if strings.TrimSpace(l) == "ready" {
				s.ready <- nil
				return
			}
			// The pipe closed without "ready": the successor ended.
			select {
			case err := <-exited:
				s.ready <- fmt.Errorf("the new server process (pid %d) ended before it was ready (%v): its log above says why", cmd.Process.Pid, exitText(err))
			case <-t.C:
				_ = cmd.Process.Kill()
				s.ready <- fmt.Errorf("the new server process (pid %d) closed its readiness pipe and did not end: killed", cmd.Process.Pid)
			}
		case err := <-exited:
			s.ready <- fmt.Errorf("the new server process (pid %d) ended before it was ready (%v): its log above says why", cmd.Process.Pid, exitText(err))
		case <-t.C:
			_ = cmd.Process.Kill()
			s.ready <- fmt.Errorf("the new server process (pid %d) was not ready within %s: killed", cmd.Process.Pid, timeout)
		}
	}()
	return s, nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// handoffEnv is the environment a successor gets: this one without the
// variables that passed sockets to this process.
func handoffEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case envHandoffFDs, envHandoffReady, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// notifyReady tells whoever waits that this server is ready: the
// predecessor of a hand-off (its pipe) and systemd (sd_notify READY=1,
// with this process as the unit's main one, which a hand-off changes).
func notifyReady(log *slog.Logger) {
	// systemd first: once the predecessor reads "ready" it ends, and
	// systemd must know the new main process by then, or it would take
	// the predecessor's end for the service's.
	if err := sdNotify(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid())); err != nil {
		log.Warn("sd_notify READY=1", "error", err)
	}
	if v, ok := os.LookupEnv(envHandoffReady); ok {
		os.Unsetenv(envHandoffReady)
		if fd, err := strconv.Atoi(v); err == nil {
			f := os.NewFile(uintptr(fd), "handoff-ready")
			if _, err := f.WriteString("ready\n"); err != nil {
				log.Warn("hand-off: tell the previous server it may go", "error", err)
			}
			f.Close()
		}
	}
}

// sdNotify sends state to systemd's notification socket (NOTIFY_SOCKET);
// nothing when there is none.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// gateListener is the API's listener: paused, it accepts nothing (new
// clients wait in the kernel's backlog) without closing the socket, and
// it can be resumed; closing it ends Accept.
type gateListener struct {
	*net.TCPListener
	mu     sync.Mutex
	paused chan struct{} // closed on resume; nil when not paused
	closed chan struct{}
	once   sync.Once
}

func newGateListener(ln net.Listener) (net.Listener, *gateListener) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return ln, nil
	}
	g := &gateListener{TCPListener: tl, closed: make(chan struct{})}
	return g, g
}

// Accept waits while the gate is paused.
func (g *gateListener) Accept() (net.Conn, error) {
	for {
		g.mu.Lock()
		wait := g.paused
		g.mu.Unlock()
		if wait != nil {
			select {
			case <-wait:
				continue
			case <-g.closed:
				return nil, net.ErrClosed
			}
		}
		c, err := g.TCPListener.Accept()
		if err != nil {
			var ne net.Error
			g.mu.Lock()
			pausedNow := g.paused != nil
			g.mu.Unlock()
			if pausedNow && errors.As(err, &ne) && ne.Timeout() {
				continue // pause's deadline woke the Accept
			}
		}
		return c, err
	}
}

// pause stops accepting; a pending Accept returns to wait.
func (g *gateListener) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused == nil {
		g.paused = make(chan struct{})
		_ = g.TCPListener.SetDeadline(time.Unix(1, 0))
	}
}

// resume accepts again.
func (g *gateListener) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused != nil {
		_ = g.TCPListener.SetDeadline(time.Time{})
		close(g.paused)
		g.paused = nil
	}
}

// Close closes the socket (this process's descriptor of it).
func (g *gateListener) Close() error {
	g.once.Do(func() { close(g.closed) })
	return g.TCPListener.Close()
}

// waitIdle polls busy until it says nothing or ctx ends; the error says
// what was still going on.
func waitIdle(ctx context.Context, busy func() string) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		what := busy()
		if what == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server did not become idle: %s", what)
		case <-t.C:
		}
	}
}
