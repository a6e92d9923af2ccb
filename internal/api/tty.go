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

	"github.com/berth-dev/berth/internal/api/dto"
)

// frameWriter sends what is written to it as data frames.
type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := dto.WriteFrame(f.w, dto.FrameData, p); err != nil {
		return 0, err
	}
	return len(p), f.w.Flush()
}

func (f *frameWriter) frame(typ byte, p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = dto.WriteFrame(f.w, typ, p)
	_ = f.w.Flush()
}

// runTTY serves an interactive berth run over the upgraded connection.
func (s *Server) runTTY(w http.ResponseWriter, r *http.Request) error {
	var req dto.RunRequest
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
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", dto.TTYProtocol)
	out := &frameWriter{w: brw.Writer}
	_ = brw.Flush()

	stdinR, stdinW := io.Pipe()
	resize := make(chan [2]uint, 8)
	go func() { // client frames: stdin, resizes, EOF
		defer close(resize)
		for {
			typ, p, err := dto.ReadFrame(brw.Reader)
			if err != nil {
				stdinW.CloseWithError(err)
				return
			}
			switch typ {
			case dto.FrameData:
				if _, err := stdinW.Write(p); err != nil {
					return
				}
			case dto.FrameResize:
				if len(p) == 4 {
					select {
					case resize <- [2]uint{uint(binary.BigEndian.Uint16(p)), uint(binary.BigEndian.Uint16(p[2:]))}:
					default:
					}
				}
			case dto.FrameEOF:
				stdinW.Close()
			}
		}
	}()
	code, err := s.dep.RunTTY(r.Context(), r.PathValue("app"), r.PathValue("env"), req.Service, req.Command, uint(rows), uint(cols), stdinR, out, resize)
	if err != nil && !errors.Is(err, io.EOF) {
		out.frame(dto.FrameError, []byte(err.Error()))
		return nil
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	out.frame(dto.FrameExit, b[:])
	return nil
}
