//go:build unix

package upstream

import "syscall"

// alive reports whether idle c is still open with nothing unread: a
// non-blocking peek finds no data and no end of stream.
func (c *Conn) alive() bool {
	if a, ok := c.nc.(interface{ Alive() bool }); ok {
		return a.Alive() // a socket an event loop took out of the netpoller
	}
	sc, ok := c.nc.(syscall.Conn)
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
