package l4

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoTCP starts a line-echo server that prefixes each line with name.
func echoTCP(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s %s\n", name, sc.Text())
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func listen(t *testing.T, network string, o Options) *Listener {
	t.Helper()
	l, err := Listen(network, "127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// ask sends one line on c and returns the answer.
func ask(c net.Conn, r *bufio.Reader, line string) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return "", err
	}
	s, err := r.ReadString('\n')
	return strings.TrimSpace(s), err
}

func TestListener_SwapUnderAStreamOfConnectionsRefusesNone(t *testing.T) {
	t.Parallel()
	l := listen(t, "tcp", Options{})
	l.Swap(NewPool("1", []Target{{ID: "a", Addr: echoTCP(t, "v1")}}))

	// A long connection opened on release 1 keeps working after the
	// swap, until it ends by itself within the drain timeout.
	long, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	lr := bufio.NewReader(long)
	if got, err := ask(long, lr, "hello"); err != nil || got != "v1 hello" {
		t.Fatalf("long connection: %q, %v", got, err)
	}

	var refused, ok atomic.Int64
	var seenV2 atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					refused.Add(1)
					continue
				}
				got, err := ask(c, bufio.NewReader(c), "x")
				c.Close()
				if err != nil || !strings.HasSuffix(got, " x") {
					refused.Add(1)
					continue
				}
				if strings.HasPrefix(got, "v2") {
					seenV2.Store(true)
				}
				ok.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for ok.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	old := l.Swap(NewPool("2", []Target{{ID: "b", Addr: echoTCP(t, "v2")}, {ID: "c", Addr: echoTCP(t, "v2")}}))
	drained := make(chan DrainResult, 1)
	go func() { drained <- old.Drain(5 * time.Second) }()
	for !seenV2.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	before := ok.Load()
	for ok.Load() < before+50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got, err := ask(long, lr, "still"); err != nil || got != "v1 still" {
		t.Errorf("long connection after the swap: %q, %v; want it kept on release 1", got, err)
	}
	long.Close()
	var r DrainResult
	select {
	case r = <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("drain did not end when the last connection of release 1 closed")
	}
	close(stop)
	wg.Wait()
	if r.Cut != 0 {
		t.Errorf("drain cut %d connections; want 0", r.Cut)
	}
	if n := refused.Load(); n != 0 {
		t.Errorf("%d connections refused or broken during the swap; want 0 (%d served)", n, ok.Load())
	}
	if !seenV2.Load() {
		t.Error("no connection reached release 2")
	}
	c := l.Counters()
	if c.Served != uint64(ok.Load())+1 || c.Failed != 0 || c.Cut != 0 {
		t.Errorf("counters %+v; want served %d, failed 0, cut 0", c, ok.Load()+1)
	}
}

func TestPool_DrainCutsALongConnectionAtTheTimeout(t *testing.T) {
	t.Parallel()
	l := listen(t, "tcp", Options{})
	l.Swap(NewPool("1", []Target{{Addr: echoTCP(t, "v1")}}))
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := ask(c, r, "hi"); err != nil {
		t.Fatal(err)
	}
	old := l.Swap(NewPool("2", []Target{{Addr: echoTCP(t, "v2")}}))
	res := old.Drain(200 * time.Millisecond)
	if res.Cut != 1 || res.Waited < 200*time.Millisecond {
		t.Errorf("drain: %+v; want 1 cut after 200ms", res)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("the cut connection still reads")
	}
	if got := l.Counters(); got.Cut != 1 || got.Served != 1 {
		t.Errorf("counters %+v; want served 1, cut 1", got)
	}
}

func TestListener_HalfCloseLetsTheTargetAnswer(t *testing.T) {
	t.Parallel()
	// A target that answers only once the client has finished sending.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 1024)
		n := 0
		for {
			m, err := c.Read(b[n:])
			n += m
			if err != nil {
				break
			}
		}
		fmt.Fprintf(c, "got %d bytes", n)
	}()
	l := listen(t, "tcp", Options{})
	l.Swap(NewPool("1", []Target{{Addr: ln.Addr().String()}}))
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("12345"))
	c.(*net.TCPConn).CloseWrite()
	b := make([]byte, 100)
	n, _ := c.Read(b)
	if string(b[:n]) != "got 5 bytes" {
		t.Errorf("answer %q; want %q", b[:n], "got 5 bytes")
	}
}

func TestListener_DeadTargetIsSkipped(t *testing.T) {
	t.Parallel()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	l := listen(t, "tcp", Options{})
	l.Swap(NewPool("1", []Target{{Addr: deadAddr}, {Addr: echoTCP(t, "v1")}}))
	for i := range 4 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		got, err := ask(c, bufio.NewReader(c), "x")
		c.Close()
		if got != "v1 x" {
			t.Errorf("connection %d: %q, %v", i, got, err)
		}
	}
	empty := listen(t, "tcp", Options{})
	empty.Swap(NewPool("1", nil))
	c, err := net.Dial("tcp", empty.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a pool without targets kept the connection open")
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for empty.Counters().Failed != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := empty.Counters(); got.Failed != 1 {
		t.Errorf("counters %+v; want 1 failed", got)
	}
}

// echoUDP answers each datagram with name and the datagram.
func echoUDP(t *testing.T, name string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			n, a, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(name+" "+string(b[:n])), a)
		}
	}()
	return pc.LocalAddr().String()
}

func udpAsk(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 2048)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("udp answer to %q: %v", msg, err)
	}
	return string(b[:n])
}

func TestListener_UDPFlowsStayUntilIdleAndNewOnesMove(t *testing.T) {
	t.Parallel()
	l := listen(t, "udp", Options{UDPIdle: 300 * time.Millisecond})
	l.Swap(NewPool("1", []Target{{Addr: echoUDP(t, "v1")}}))
	a, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := udpAsk(t, a, "one"); got != "v1 one" {
		t.Fatalf("first datagram: %q", got)
	}
	old := l.Swap(NewPool("2", []Target{{Addr: echoUDP(t, "v2")}}))
	// The open flow stays on release 1; a new client goes to release 2.
	if got := udpAsk(t, a, "two"); got != "v1 two" {
		t.Errorf("open flow after the swap: %q; want release 1", got)
	}
	b, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := udpAsk(t, b, "new"); got != "v2 new" {
		t.Errorf("new flow after the swap: %q; want release 2", got)
	}
	res := old.Drain(5 * time.Second)
	if res.Cut != 0 || res.Waited >= 5*time.Second {
		t.Errorf("drain %+v; want the idle flow to end by itself", res)
	}
	// After its flow went idle, client a starts a new one on release 2.
	if got := udpAsk(t, a, "three"); got != "v2 three" {
		t.Errorf("after idle: %q; want release 2", got)
	}
	if got := l.Counters(); got.Served != 3 || got.Cut != 0 {
		t.Errorf("counters %+v; want 3 flows served", got)
	}
}

func TestPool_DrainCutsABusyUDPFlow(t *testing.T) {
	t.Parallel()
	l := listen(t, "udp", Options{UDPIdle: time.Minute})
	l.Swap(NewPool("1", []Target{{Addr: echoUDP(t, "v1")}}))
	a, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	udpAsk(t, a, "one")
	old := l.Swap(NewPool("2", []Target{{Addr: echoUDP(t, "v2")}}))
	if res := old.Drain(100 * time.Millisecond); res.Cut != 1 {
		t.Errorf("drain %+v; want 1 flow cut", res)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := udpAsk(t, a, "again"); got == "v2 again" {
			return
		}
	}
	t.Error("the client of a cut flow never reached release 2")
}
