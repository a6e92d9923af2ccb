package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A WebSocket still open when its connection is cut (the drain timeout
// of a replaced release, or anything else that cancels its request) is ended
// as a WebSocket ends: each side gets a close frame with status 1001
// (going away), so clients reconnect as after any server restart rather
// than report an error. The proxy follows the frames in both directions
// to know where they begin: a close frame is only written between two
// frames, never inside one, and never after a side already sent its own
// close. A connection cut in the middle of a frame is cut as before.

// wsGoingAway is the close status 1001, as the frame payload carries it.
var wsGoingAway = []byte{0x03, 0xE9}

// errWSCut ends the target's side of a WebSocket cut by the proxy.
var errWSCut = errors.New("websocket cut by the proxy (close frame 1001 sent)")

// wsCloseWait bounds how long a cut waits to hand the target its close
// frame before the connection closes anyway.
const wsCloseWait = time.Second

// isWebSocket reports whether resp switched its connection to WebSocket.
func isWebSocket(resp *http.Response) bool {
	return resp.StatusCode == http.StatusSwitchingProtocols && strings.EqualFold(resp.Header.Get("Upgrade"), "websocket")
}

// wsFrames follows the frames of one direction of a WebSocket stream.
type wsFrames struct {
	hdr    [14]byte
	nhdr   int
	need   uint64 // payload bytes left of the current frame
	closed bool   // a close frame went by
}

// feed follows p, the stream's next bytes.
func (f *wsFrames) feed(p []byte) {
	for len(p) > 0 {
		if f.need > 0 {
			n := uint64(len(p))
			if n > f.need {
				n = f.need
			}
			f.need -= n
			p = p[n:]
			continue
		}
		f.hdr[f.nhdr] = p[0]
		f.nhdr++
		p = p[1:]
		if f.nhdr < 2 {
			continue
		}
		n7 := f.hdr[1] & 0x7f
		ext := 0 // the extended length's bytes
		switch n7 {
		case 126:
			ext = 2
		case 127:
			ext = 8
		}
		want := 2 + ext
		if f.hdr[1]&0x80 != 0 {
			want += 4 // the masking key
		}
		if f.nhdr < want {
			continue
		}
		switch ext {
		case 2:
			f.need = uint64(binary.BigEndian.Uint16(f.hdr[2:4]))
		case 8:
			f.need = binary.BigEndian.Uint64(f.hdr[2:10])
		default:
			f.need = uint64(n7)
		}
		if f.hdr[0]&0x0f == 0x8 {
			f.closed = true
		}
		f.nhdr = 0
	}
}

// between reports whether the stream stands between two frames, with no
// close frame sent yet: where a close frame may go.
func (f *wsFrames) between() bool { return f.nhdr == 0 && f.need == 0 && !f.closed }

// closeFrame is a close frame with status 1001; masked, as a client must
// send it, when masked.
func closeFrame(masked bool) []byte {
	if !masked {
		return append([]byte{0x88, byte(len(wsGoingAway))}, wsGoingAway...)
	}
	b := make([]byte, 6, 6+len(wsGoingAway))
	b[0], b[1] = 0x88, 0x80|byte(len(wsGoingAway))
	_, _ = rand.Read(b[2:6])
	for i, c := range wsGoingAway {
		b = append(b, c^b[2+i%4])
	}
	return b
}

// wsConn is the target's side of a proxied WebSocket, as ReverseProxy
// copies it: Read carries the target's frames to the client, Write the
// client's to the target, Close ends it (when either side ended, or when
// the request was cut). When closing cuts the stream, Close first writes
// the target a close frame, and Read hands the client one before its end.
type wsConn struct {
	rwc io.ReadWriteCloser

	wmu  sync.Mutex // Write and Close's close frame to the target
	down wsFrames   // the client's frames, to the target

	up   wsFrames // the target's frames, to the client (Read's own)
	tail []byte   // the client's close frame, still to be read
	done bool     // Read has nothing more

	once    sync.Once
	closing chan struct{} // closed when Close begins
	ended   func()        // called once, when Close is done (may be nil)
}

func newWSConn(rwc io.ReadWriteCloser, ended func()) *wsConn {
	return &wsConn{rwc: rwc, closing: make(chan struct{}), ended: ended}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.rwc.Write(p)
	c.down.feed(p[:n])
	return n, err
}

func (c *wsConn) Read(p []byte) (int, error) {
	if len(c.tail) > 0 {
		n := copy(p, c.tail)
		c.tail = c.tail[n:]
		return n, nil
	}
	if c.done {
		// An error, not io.EOF: ReverseProxy then ends both directions at
		// once instead of waiting for the client's side.
		return 0, errWSCut
	}
	n, err := c.rwc.Read(p)
	c.up.feed(p[:n])
	if err == nil {
		return n, nil
	}
	select {
	case <-c.closing:
	default:
		return n, err // the target ended it, or failed
	}
	// Closed here: the stream was cut (the target may have ended it on
	// the close frame Close sent it, before Close closed it). The client
	// gets a close frame if the target's frames allow one, then the end.
	c.done = true
	if c.up.between() {
		c.tail = closeFrame(false)
	}
	if n > 0 {
		return n, nil
	}
	return c.Read(p)
}

// Close ends the connection to the target, handing it a close frame first
// when it stands between two of the client's frames (waiting at most
// wsCloseWait for the write).
func (c *wsConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closing)
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.wmu.Lock()
			defer c.wmu.Unlock()
			if c.down.between() {
				b := closeFrame(true)
				if n, _ := c.rwc.Write(b); n > 0 {
					c.down.feed(b[:n])
				}
			}
		}()
		t := time.NewTimer(wsCloseWait)
		select {
		case <-wrote:
		case <-t.C:
		}
		t.Stop()
		err = c.rwc.Close()
		if c.ended != nil {
			c.ended()
		}
	})
	return err
}
