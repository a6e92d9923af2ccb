//go:build !linux

package proxy

// Event loops are Linux only (evloop_linux.go): elsewhere every
// connection has its goroutine.

type evLoop struct{}

type evConn struct {
	owned   bool
	pending bool
}

func (s *Server) startLoops(int) []*evLoop { return nil }

func (*evLoop) adopt(*serverConn) bool { return false }

func (*evLoop) loopDone() <-chan struct{} { return nil }

func (*evConn) write(p []byte) (int, error) { return len(p), nil }

func (c *serverConn) resumeLane() laneResult { return laneClosed }

func (c *serverConn) handBack() bool { return false }
func (*evLoop) wake()                {}
