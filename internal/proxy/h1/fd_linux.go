//go:build linux

package h1

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Fd is a socket an event loop took out of Go's netpoller (Detach):
// a descriptor of a connection registered with both the runtime's epoll
// and a loop's would wake both for every byte, which costs more than the
// loop saves. It is non-blocking; the loop reads and writes it with
// RawRead and RawWrite, and a goroutine that continues a request the loop
// handed over reads it with Read, which waits in ppoll(2) (a target
// connection only: a client connection goes back to a net.Conn, Attach).
//
// Every system call holds mu for reading; Close (any goroutine) shuts the
// socket down, which wakes a ppoll, and closes the descriptor under mu,
// so no call reaches a descriptor number reused meanwhile.
type Fd struct {
	fd     int
	mu     sync.RWMutex
	closed atomic.Bool
	rdl    atomic.Int64 // read deadline (Unix ns), 0: none
	laddr  net.Addr
	raddr  net.Addr
}

var _ net.Conn = (*Fd)(nil)

// Detach takes nc's socket out of the netpoller: a duplicate of its
// descriptor (non-blocking like it) becomes the Fd, and nc is closed.
func Detach(nc net.Conn) (*Fd, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = dupCloexec(int(s))
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	f := &Fd{fd: fd, laddr: nc.LocalAddr(), raddr: nc.RemoteAddr()}
	nc.Close()
	return f, nil
}

func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// Attach turns f back into a net.Conn in the netpoller and closes f;
// net.ErrClosed when f was closed.
func (f *Fd) Attach() (net.Conn, error) {
	if !f.closed.CompareAndSwap(false, true) {
		return nil, net.ErrClosed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file := os.NewFile(uintptr(f.fd), "")
	nc, err := net.FileConn(file) // a duplicate, registered with the netpoller
	file.Close()
	return nc, err
}

// RawRead reads what the socket holds now: syscall.EAGAIN when nothing.
func (f *Fd) RawRead(p []byte) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed.Load() {
		return 0, net.ErrClosed
	}
	return rawRead(uintptr(f.fd), p)
}

// RawWrite writes what the socket takes now: syscall.EAGAIN when nothing.
func (f *Fd) RawWrite(p []byte) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed.Load() {
		return 0, net.ErrClosed
	}
	return rawWrite(uintptr(f.fd), p)
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket
// without telling the scheduler (they never block): no P hand-off.
func rawRead(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Read reads, waiting for bytes until the read deadline.
func (f *Fd) Read(p []byte) (int, error) {
	for {
		n, err := f.RawRead(p)
		switch {
		case err == syscall.EAGAIN:
			if err := f.wait(syscall.EPOLLIN, f.rdl.Load()); err != nil {
				return 0, err
			}
		case err == syscall.EINTR:
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Source: f.laddr, Addr: f.raddr, Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		default:
			return n, nil
		}
	}
}

// Write writes p whole, waiting for room in the socket.
func (f *Fd) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := f.RawWrite(p[done:])
		switch {
		case err == syscall.EAGAIN:
			if err := f.wait(syscall.EPOLLOUT, 0); err != nil {
				return done, err
			}
		case err == syscall.EINTR:
		case err != nil:
			return done, &net.OpError{Op: "write", Net: "tcp", Source: f.laddr, Addr: f.raddr, Err: err}
		default:
			done += n
		}
	}
	return done, nil
}

// wait waits in ppoll(2) until the socket is ready for events, or the
// deadline (Unix ns, 0: none) passed, or Close.
func (f *Fd) wait(events int16, deadline int64) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed.Load() {
		return net.ErrClosed
	}
	var ts *syscall.Timespec
	if deadline != 0 {
		d := deadline - time.Now().UnixNano()
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := syscall.NsecToTimespec(d)
		ts = &t
	}
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(f.fd), events: events}
	_, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 && e != syscall.EINTR {
		return e
	}
	if f.closed.Load() {
		return net.ErrClosed
	}
	return nil
}

// Alive reports whether an idle connection is still open (nothing to
// read, no end): the fast client's check before reuse (upstream.Conn
// asks its socket for it).
func (f *Fd) Alive() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed.Load() {
		return false
	}
	var b [1]byte
	_, _, err := syscall.Recvfrom(f.fd, b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == syscall.EAGAIN
}

// Close shuts the socket down (waking a waiting Read) and closes it.
func (f *Fd) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	_ = syscall.Shutdown(f.fd, syscall.SHUT_RDWR)
	f.mu.Lock()
	defer f.mu.Unlock()
	return syscall.Close(f.fd)
}

// Sysfd returns the descriptor, for registering it with an epoll
// instance; it is valid until Close or Attach.
func (f *Fd) Sysfd() int { return f.fd }

// LocalAddr returns the socket's local address.
func (f *Fd) LocalAddr() net.Addr { return f.laddr }

// RemoteAddr returns the socket's peer address.
func (f *Fd) RemoteAddr() net.Addr { return f.raddr }

// SetDeadline sets the read deadline (SetWriteDeadline does nothing).
func (f *Fd) SetDeadline(t time.Time) error { return f.SetReadDeadline(t) }

// SetReadDeadline sets the deadline of the next waits of Read (a wait
// under way keeps its own).
func (f *Fd) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		f.rdl.Store(0)
	} else {
		f.rdl.Store(t.UnixNano())
	}
	return nil
}

// SetWriteDeadline is not supported: the loop's writes to a target are
// request heads to an idle connection.
func (f *Fd) SetWriteDeadline(time.Time) error { return nil }
