package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// wsFrame encodes one frame: fin set, opcode op, masked with key when
// key is not nil.
func wsFrame(op byte, payload []byte, key []byte) []byte {
	b := []byte{0x80 | op}
	mask := byte(0)
	if key != nil {
		mask = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n <= 0xffff:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if key == nil {
		return append(b, payload...)
	}
	b = append(b, key...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// readWSFrame reads one frame and returns its opcode and its payload,
// unmasked.
func readWSFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	var key []byte
	if h[1]&0x80 != 0 {
		key = make([]byte, 4)
		if _, err := io.ReadFull(r, key); err != nil {
			return 0, nil, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	if key != nil {
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, p, nil
}

func TestWSFrames_FollowsFramesSplitAnywhere(t *testing.T) {
	key := []byte{1, 2, 3, 4}
	var stream []byte
	ends := map[int]bool{0: true} // offsets where a frame ends
	for _, n := range []int{0, 5, 125, 126, 300, 70000} {
		stream = append(stream, wsFrame(0x2, bytes.Repeat([]byte{'x'}, n), key)...)
		ends[len(stream)] = true
		stream = append(stream, wsFrame(0x1, []byte("hi"), nil)...)
		ends[len(stream)] = true
	}
	for _, chunk := range []int{1, 3, 7, 1000} {
		var f wsFrames
		for pos := 0; pos < len(stream); pos += chunk {
			end := min(pos+chunk, len(stream))
			f.feed(stream[pos:end])
			if f.between() != ends[end] {
				t.Fatalf("chunks of %d: after byte %d between() = %v, want %v", chunk, end, f.between(), ends[end])
			}
		}
	}
	var f wsFrames
	f.feed(wsFrame(0x8, wsGoingAway, nil))
	if f.between() {
		t.Fatal("after a close frame went by, between() = true: a second close would follow it")
	}
}

func TestCloseFrame_IsA1001CloseMaskedOrNot(t *testing.T) {
	for _, masked := range []bool{false, true} {
		op, p, err := readWSFrame(bufio.NewReader(bytes.NewReader(closeFrame(masked))))
		if err != nil || op != 0x8 || !bytes.Equal(p, []byte{0x03, 0xE9}) {
			t.Fatalf("masked=%v: op %x payload %x err %v", masked, op, p, err)
		}
		if got := closeFrame(masked)[1]&0x80 != 0; got != masked {
			t.Fatalf("masked=%v: mask bit %v", masked, got)
		}
	}
}

// wsEcho is a WebSocket backend: it echoes each frame unmasked and, when
// a close frame comes, reports its payload on closes.
func wsEcho(closes chan<- []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		brw.Flush()
		for {
			op, p, err := readWSFrame(brw.Reader)
			if err != nil {
				closes <- nil
				return
			}
			if op == 0x8 {
				closes <- p
				return
			}
			brw.Write(wsFrame(op, p, nil))
			brw.Flush()
		}
	}
}

// A WebSocket still open at the drain timeout ends with a close frame
// 1001 (going away) to the client and to the app, not a bare FIN.
func TestPool_DrainEndsWebSocketsWithCloseFrames(t *testing.T) {
	px, srv := newProxyServer(t)
	closes := make(chan []byte, 1)
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "ws", wsEcho(closes)))

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	conn.Write(wsFrame(0x1, []byte("hello"), []byte{9, 8, 7, 6}))
	if op, p, err := readWSFrame(br); err != nil || op != 0x1 || string(p) != "hello" {
		t.Fatalf("echo: op %x %q %v", op, p, err)
	}

	res := p1.Drain(context.Background(), 50*time.Millisecond)
	if res.Cut != 1 || res.Long != (LongConns{Open: 1, Closed: 1}) {
		t.Fatalf("drain = %+v, want the WebSocket counted open and cut", res)
	}
	op, p, err := readWSFrame(br)
	if err != nil || op != 0x8 || !bytes.Equal(p, wsGoingAway) {
		t.Fatalf("the client got op %x payload %x (err %v), want a close frame 1001", op, p, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the close frame: %v, want the end of the connection", err)
	}
	if p := <-closes; !bytes.Equal(p, wsGoingAway) {
		t.Fatalf("the app got close payload %x, want 1001 (03e9)", p)
	}
}
