package api

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
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

// frameWriter sends what is written to it as data frames.
type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := WriteFrame(f.w, FrameData, p); err != nil {
		return 0, err
	}
	return len(p), f.w.Flush()
}

func (f *frameWriter) frame(typ byte, p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = WriteFrame(f.w, typ, p)
	_ = f.w.Flush()
}

// runTTY serves an interactive berth run over the upgraded connection.
func (s *Server) runTTY(w http.ResponseWriter, r *http.Request) error {
	var req RunRequest
	if err := json.Unmarshal([]byte(r.URL.Query().Get("request")), &req); err != nil {
		return badRequest(fmt.Errorf("read run request: %w", err))
	}
	rows, _ := strconv.ParseUint(r.URL.Query().Get("rows"), 10, 16)
	cols, _ := strconv.ParseUint(r.URL.Query().Get("cols"), 10, 16)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fmt.Errorf("interactive run: %w", err)
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", TTYProtocol)
	out := &frameWriter{w: brw.Writer}
	_ = brw.Flush()

	stdinR, stdinW := io.Pipe()
	resize := make(chan [2]uint, 8)
	go func() { // client frames: stdin, resizes, EOF
		defer close(resize)
		for {
			typ, p, err := ReadFrame(brw.Reader)
			if err != nil {
				stdinW.CloseWithError(err)
				return
			}
			switch typ {
			case FrameData:
				if _, err := stdinW.Write(p); err != nil {
					return
				}
			case FrameResize:
				if len(p) == 4 {
					select {
					case resize <- [2]uint{uint(binary.BigEndian.Uint16(p)), uint(binary.BigEndian.Uint16(p[2:]))}:
					default:
					}
				}
			case FrameEOF:
				stdinW.Close()
			}
		}
	}()
	code, err := s.dep.RunTTY(r.Context(), r.PathValue("app"), r.PathValue("env"), req.Service, req.Command, uint(rows), uint(cols), stdinR, out, resize)
	if err != nil && !errors.Is(err, io.EOF) {
		out.frame(FrameError, []byte(err.Error()))
		return nil
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	out.frame(FrameExit, b[:])
	return nil
}
