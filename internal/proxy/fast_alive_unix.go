//go:build unix

package proxy

import "syscall"

// alive reports whether idle c is still open with nothing unread: a
// non-blocking peek finds no data and no end of stream.
func (c *fconn) alive() bool {
	if a, ok := c.Conn.(interface{ alive() bool }); ok {
		return a.alive() // a socket an event loop took out of the netpoller
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait
	})
	return err == nil && alive
}
