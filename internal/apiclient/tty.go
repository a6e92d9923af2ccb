package apiclient

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/berth-dev/berth/internal/api/dto"
)

// RunTTY runs cmd interactively on a terminal of rows×cols in app/env's
// service: stdin is sent as typed, output is written to stdout as the
// terminal produced it, sizes from resize are applied. It returns the
// command's exit code.
func (c *Client) RunTTY(ctx context.Context, app, env, service string, cmd []string, rows, cols uint16, stdin io.Reader, stdout io.Writer, resize <-chan [2]uint16) (int, error) {
	req, _ := json.Marshal(dto.RunRequest{Service: service, Command: cmd})
	q := url.Values{"request": {string(req)}, "rows": {strconv.Itoa(int(rows))}, "cols": {strconv.Itoa(int(cols))}}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.addr+envPath(app, env)+"/run?"+q.Encode(), nil)
	if err != nil {
		return -1, err
	}
	hreq.Header.Set("Authorization", "Bearer "+c.token)
	hreq.Header.Set("Connection", "Upgrade")
	hreq.Header.Set("Upgrade", dto.TTYProtocol)
	resp, err := c.http.Do(hreq)
	if err != nil {
		return -1, fmt.Errorf("cannot reach the berth server at %s: %w", c.addr, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb dto.ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = resp.Status
		}
		return -1, &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	conn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return -1, errors.New("the server did not switch to the terminal protocol")
	}
	defer conn.Close()

	var mu sync.Mutex
	send := func(typ byte, p []byte) error {
		mu.Lock()
		defer mu.Unlock()
		return dto.WriteFrame(conn, typ, p)
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := stdin.Read(buf)
			if n > 0 && send(dto.FrameData, buf[:n]) != nil {
				return
			}
			if err != nil {
				_ = send(dto.FrameEOF, nil)
				return
			}
		}
	}()
	go func() {
		for sz := range resize {
			var b [4]byte
			binary.BigEndian.PutUint16(b[:], sz[0])
			binary.BigEndian.PutUint16(b[2:], sz[1])
			if send(dto.FrameResize, b[:]) != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(conn)
	for {
		typ, p, err := dto.ReadFrame(br)
		if err != nil {
			return -1, fmt.Errorf("lost the terminal connection: %w", err)
		}
		switch typ {
		case dto.FrameData:
			if _, err := stdout.Write(p); err != nil {
				return -1, err
			}
		case dto.FrameExit:
			if len(p) != 4 {
				return -1, errors.New("bad exit frame")
			}
			return int(int32(binary.BigEndian.Uint32(p))), nil
		case dto.FrameError:
			return -1, errors.New(string(p))
		}
	}
}
