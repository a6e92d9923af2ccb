//go:build linux

package proxy

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

// loopFd is a socket an event loop took out of Go's netpoller (detach):
// a descriptor of a connection registered with both the runtime's epoll
// and a loop's would wake both for every byte, which costs more than the
// loop saves. It is non-blocking; the loop reads and writes it with
// rawRead and rawWrite, and a goroutine that continues a request the loop
// handed over reads it with Read, which waits in ppoll(2) (a target
// connection only: a client connection goes back to a net.Conn, attach).
//
// Every system call holds mu for reading; Close (any goroutine) shuts the
// socket down, which wakes a ppoll, and closes the descriptor under mu,
// so no call reaches a descriptor number reused meanwhile.
type loopFd struct {
	fd     int
	mu     sync.RWMutex
	closed atomic.Bool
	rdl    atomic.Int64 // read deadline (Unix ns), 0: none
	laddr  net.Addr
	raddr  net.Addr
}

var _ net.Conn = (*loopFd)(nil)

// detach takes nc's socket out of the netpoller: a duplicate of its
// descriptor (non-blocking like it) becomes the loopFd, and nc is closed.
func detach(nc net.Conn) (*loopFd, error) {
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
	f := &loopFd{fd: fd, laddr: nc.LocalAddr(), raddr: nc.RemoteAddr()}
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

// attach turns f back into a net.Conn in the netpoller and closes f;
// false when f was closed.
func (f *loopFd) attach() (net.Conn, error) {
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

// rawRead reads what the socket holds now: syscall.EAGAIN when nothing.
func (f *loopFd) rawRead(p []byte) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed.Load() {
		return 0, net.ErrClosed
	}
	return rawRead(uintptr(f.fd), p)
}

// rawWrite writes what the socket takes now: syscall.EAGAIN when nothing.
func (f *loopFd) rawWrite(p []byte) (int, error) {
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
func (f *loopFd) Read(p []byte) (int, error) {
	for {
		n, err := f.rawRead(p)
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
func (f *loopFd) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := f.rawWrite(p[done:])
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
func (f *loopFd) wait(events int16, deadline int64) error {
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
func (f *loopFd) Alive() bool {
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
func (f *loopFd) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	_ = syscall.Shutdown(f.fd, syscall.SHUT_RDWR)
	f.mu.Lock()
	defer f.mu.Unlock()
	return syscall.Close(f.fd)
}

func (f *loopFd) LocalAddr() net.Addr  { return f.laddr }
func (f *loopFd) RemoteAddr() net.Addr { return f.raddr }

func (f *loopFd) SetDeadline(t time.Time) error { return f.SetReadDeadline(t) }

// SetReadDeadline sets the deadline of the next waits of Read (a wait
// under way keeps its own).
func (f *loopFd) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		f.rdl.Store(0)
	} else {
		f.rdl.Store(t.UnixNano())
	}
	return nil
}

// SetWriteDeadline is not supported: the loop's writes to a target are
// request heads to an idle connection.
func (f *loopFd) SetWriteDeadline(time.Time) error { return nil }
