package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
)

// wsDial opens a WebSocket (frames, RFC 6455) to path through the proxy.
func wsDial(t *testing.T, proxyAddr, host, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", path, host)
	br := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket upgrade: %v %v", resp, err)
	}
	return conn, br
}

// wsSend writes a masked text frame (as a client must).
func wsSend(conn net.Conn, text string) error {
	mask := [4]byte{1, 2, 3, 4}
	p := []byte(text)
	for i := range p {
		p[i] ^= mask[i%4]
	}
	_, err := conn.Write(append(append([]byte{0x81, 0x80 | byte(len(p))}, mask[:]...), p...))
	return err
}

// wsRead reads one unmasked frame: its opcode and payload.
func wsRead(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(b[:]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return h[0] & 0x0f, p, err
}

// A WebSocket open across a hand-off stays with the process that handed
// off for its service's drain_timeout (2 s here, not a fixed 30 s), and
// is then ended as a WebSocket ends: a close frame 1001 (going away).
// A new one goes to the successor.
func TestServer_HandOffEndsAWebSocketWithACloseFrame(t *testing.T) {
	eng := requireDocker(t)
	exe := filepath.Join(t.TempDir(), "berth")
	installBinary(t, buildBerthVersion(t, "handoff-ws"), exe)
	s := startHandoffServer(t, exe)
	name, host := newApp(t, eng)
	if _, err := s.c.Deploy(context.Background(), loadApp(t, name, host, appOpts{Version: "v1", Drain: "2s"}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	ws, br := wsDial(t, s.httpAddr, host, "/wsframes")
	defer ws.Close()
	if err := wsSend(ws, "before"); err != nil {
		t.Fatal(err)
	}
	if op, p, err := wsRead(br); err != nil || op != 0x1 || string(p) != "before" {
		t.Fatalf("echo before the hand-off: %x %q %v", op, p, err)
	}
	handedOff := time.Now()
	s.handOff()
	if err := wsSend(ws, "after"); err != nil {
		t.Fatalf("the WebSocket after the hand-off: %v", err)
	}
	if op, p, err := wsRead(br); err != nil || op != 0x1 || string(p) != "after" {
		t.Fatalf("echo after the hand-off (the old process keeps it): %x %q %v", op, p, err)
	}
	_ = ws.SetDeadline(time.Now().Add(20 * time.Second))
	op, p, err := wsRead(br)
	took := time.Since(handedOff)
	if err != nil || op != 0x8 || len(p) < 2 || binary.BigEndian.Uint16(p) != 1001 {
		t.Fatalf("the end of the WebSocket %s after the hand-off: opcode %x payload %q (%v), want a close frame 1001", took, op, p, err)
	}
	if took > 12*time.Second {
		t.Errorf("the WebSocket was closed %s after the hand-off, want about its 2s drain_timeout", took)
	}
	t.Logf("the WebSocket got a close frame 1001 %s after the hand-off (drain_timeout 2s)", took.Round(time.Millisecond))

	ws2, br2 := wsDial(t, s.httpAddr, host, "/wsframes")
	defer ws2.Close()
	if err := wsSend(ws2, "again"); err != nil {
		t.Fatal(err)
	}
	if op, p, err := wsRead(br2); err != nil || string(p) != "again" {
		t.Fatalf("a new WebSocket to the successor: %x %q %v", op, p, err)
	}
}
