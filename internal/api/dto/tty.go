package dto

import (
	"encoding/binary"
	"fmt"
	"io"
)

// TTYProtocol is the Upgrade token of an interactive berth run: after
// "101 Switching Protocols" both sides exchange frames (WriteFrame).
const TTYProtocol = "berth-tty"

// Frame types of the TTY protocol.
const (
	FrameData   = 'd' // bytes: stdin (client→server) or output (server→client)
	FrameResize = 'r' // 4 bytes: rows, cols as big-endian uint16 (client→server)
	FrameEOF    = 'e' // stdin ended (client→server)
	FrameExit   = 'x' // 4 bytes: exit code as big-endian int32 (server→client)
	FrameError  = 'E' // a message: the command could not run (server→client)
)

// WriteFrame writes one frame: type, big-endian uint32 length, payload.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// ReadFrame reads one frame (payloads are at most 1 MiB).
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("tty frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return h[0], p, err
}
