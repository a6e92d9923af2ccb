package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSameAddr(t *testing.T) {
	t.Parallel()
	v4 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7070}
	any6 := &net.TCPAddr{IP: net.IPv6unspecified, Port: 80}
	for _, c := range []struct {
		want string
		got  *net.TCPAddr
		ok   bool
	}{
		{"127.0.0.1:7070", v4, true},
		{"127.0.0.1:0", v4, true}, // any port: tests and a successor given :0
		{"127.0.0.1:7071", v4, false},
		{"10.0.0.1:7070", v4, false},
		{":80", any6, true},
		{"0.0.0.0:80", any6, true},
		{":80", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, false},
		{"localhost:7070", v4, true},
		{"nonsense", v4, false},
	} {
		if got := sameAddr(c.want, c.got); got != c.ok {
			t.Errorf("sameAddr(%q, %v) = %v, want %v", c.want, c.got, got, c.ok)
		}
	}
}

// A predecessor's sockets (BERTH_HANDOFF_FDS) serve the flags of their
// names; one bound elsewhere than its flag says is refused; one that no
// flag takes is reported.
func TestInherit_HandedOffSockets(t *testing.T) {
	pass := func(t *testing.T) (string, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// A descriptor of its own, as a predecessor passes: inherit
		// closes it; f's would be closed twice (once by f's finalizer,
		// maybe after the number went to another test's socket).
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(fd), ln.Addr().String()
	}
	fd, addr := pass(t)
	t.Setenv(envHandoffFDs, "http="+fd)
	in, err := inherit()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := os.LookupEnv(envHandoffFDs); ok {
		t.Error("the variable stays set: a successor would read it again")
	}
	ln, err := in.listen("http", addr)
	if err != nil || ln.Addr().String() != addr {
		t.Fatalf("listen http: %v %v", ln, err)
	}
	ln.Close()
	if err := in.leftover(); err != nil {
		t.Errorf("leftover: %v", err)
	}

	fd, addr = pass(t)
	t.Setenv(envHandoffFDs, "http="+fd)
	if in, err = inherit(); err != nil {
		t.Fatal(err)
	}
	if _, err := in.listen("http", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "give --http-addr "+addr) {
		t.Errorf("a socket bound elsewhere: %v", err)
	}

	fd, _ = pass(t)
	t.Setenv(envHandoffFDs, "api="+fd)
	if in, err = inherit(); err != nil {
		t.Fatal(err)
	}
	if err := in.leftover(); err == nil || !strings.Contains(err.Error(), "no flag asks for (api 127.0.0.1:") {
		t.Errorf("a socket no flag takes: %v", err)
	}
}

// Ready, the server tells systemd (READY=1 with itself as the main
// process, which a hand-off changes).
func TestNotifyReady_SdNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	notifyReady(slog.New(slog.NewTextHandler(io.Discard, nil)))
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 256)
	n, err := pc.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()); string(b[:n]) != want {
		t.Errorf("sd_notify sent %q, want %q", b[:n], want)
	}
}

// A paused gate accepts nothing (the client waits in the backlog) until
// it is resumed; closed while paused, Accept ends.
func TestGateListener_PauseResumeClose(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, gate := newGateListener(raw)
	accepted := make(chan net.Conn, 4)
	done := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			accepted <- c
		}
	}()
	gate.pause()
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatalf("dial while paused: %v (the backlog should take it)", err)
	}
	defer c.Close()
	select {
	case <-accepted:
		t.Fatal("accepted while paused")
	case <-time.After(100 * time.Millisecond): // a negative: nothing may come
	}
	gate.resume()
	select {
	case a := <-accepted:
		a.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("not accepted after resume")
	}
	gate.pause()
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not end on Close while paused")
	}
}
