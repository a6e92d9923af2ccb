package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy/wire"
	"github.com/berth-dev/berth/internal/testutil"
)

// The lane must answer exactly as the handler path does. These tests send
// the same raw requests through two lean servers on one proxy, one with
// the lane and one without, to a scripted raw backend, and compare what the
// backend got and what the client got (request ids and dates aside). The
// whole proxy test suite also runs behind the lane (testServerKind
// "lane").

// rawScripts are the raw responses of the lane tests' app by path (after
// the status line's "HTTP/1.1 "). "{close}" ends the connection after the
// response.
var rawScripts = map[string]string{
	"/plain":    "200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\nhello",
	"/nodate":   "200 OK\r\nContent-Length: 2\r\n\r\nok",
	"/hop":      "200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nUpgrade: h2\r\nX-Request-Id: the-apps-own\r\nx-lower-case: v\r\nContent-Length: 2\r\n\r\nok",
	"/chunked":  "200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"/trailers": "200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\nX-Undeclared: 7\r\n\r\n",
	"/close":    "200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil the end{close}",
	"/204":      "204 No Content\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n",
	"/304":      "304 Not Modified\r\nEtag: \"x\"\r\nContent-Length: 10\r\n\r\n",
	"/hints":    "103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"/continue": "100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"/big":      "200 OK\r\nContent-Length: 40000\r\n\r\n" + strings.Repeat("b", 40000),
	"/created":  "201 Created\r\nLocation: /x/1\r\nContent-Length: 0\r\n\r\n",
	"/crlf":     "200 OK\r\nX-Odd: a\rb\r\nContent-Length: 2\r\n\r\nok",
}

// scriptedApp answers every request from rawScripts.
func scriptedApp(w *bufio.Writer, r *http.Request) (keep bool) {
	script, ok := rawScripts[r.URL.Path]
	if !ok {
		script = "404 Not Found\r\nContent-Length: 0\r\n\r\n"
	}
	resp, closeAfter := strings.CutSuffix("HTTP/1.1 "+script, "{close}")
	w.WriteString(resp)
	return !closeAfter
}

// laneRig is a proxy with a route to a scripted raw backend and two lean servers on it:
// with the lane and without.
type laneRig struct {
	px         *Proxy
	pool       *Pool
	log        *testutil.SyncBuffer // the proxy's access log
	app        *rawBackend
	lane, lean *Server
	laneAddr   string
	leanAddr   string
}

func newLaneRig(t *testing.T) *laneRig {
	t.Helper()
	rig := newRigProxy(t, scriptedApp)
	o := testServerOptions()
	rig.lean, rig.leanAddr = rig.serve(t, o)
	o.Lane = rig.px
	if testServerKind == "loop" {
		o.EventLoops = 2 // the lane behind event loops
	}
	rig.lane, rig.laneAddr = rig.serve(t, o)
	return rig
}

// newRigProxy is a rig's proxy, routing shop.test to a raw backend that
// answers with respond, without servers.
func newRigProxy(t *testing.T, respond func(w *bufio.Writer, r *http.Request) (keep bool)) *laneRig {
	t.Helper()
	app := newRawBackend(t, respond)
	buf := &testutil.SyncBuffer{}
	al := NewAccessLog(buf)
	t.Cleanup(func() { al.Close() })
	px := New(Options{Logger: discardLog, AccessLog: al})
	p := NewPool(keyA, "r1", []Target{app.target("app")}, fastHealth(), discardLog)
	t.Cleanup(p.Close)
	waitHealthy(t, p, 1)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		t.Fatal(err)
	}
	return &laneRig{px: px, pool: p, app: app, log: buf}
}

// serve starts a lean server with o on the rig's proxy and returns it
// with its address; the server counts lane and loop requests.
func (rig *laneRig) serve(t *testing.T, o ServerOptions) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.Observer == nil {
		o.Observer = &serverCounts{}
	}
	s := NewServer(rig.px, o)
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return s, ln.Addr().String()
}

// serverCounts is the tests' ServerObserver: it counts the requests the
// lane answered (laned) and those an event loop answered itself (looped).
type serverCounts struct {
	laned  atomic.Uint64
	looped atomic.Uint64
}

func (c *serverCounts) LaneAnswered() { c.laned.Add(1) }
func (c *serverCounts) LoopAnswered() { c.looped.Add(1) }

// counts returns the serverCounts s reports to (rig.serve gives every
// server one).
func counts(s *Server) *serverCounts {
	c, ok := s.opts.Observer.(*serverCounts)
	if !ok {
		panic(fmt.Sprintf("server observed by %T, not by *serverCounts: start it with laneRig.serve", s.opts.Observer))
	}
	return c
}

// exchange sends the raw request to addr and returns the normalised
// response (Date and X-Request-Id values masked, header names lower case
// and sorted, trailers after the body) and the normalised head the app
// got for it.
func (rig *laneRig) exchange(t *testing.T, addr, req string) (resp, got string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	n0, _ := rig.app.lastHead()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method := strings.Fields(req)[0]
	br := bufio.NewReader(c)
	var b strings.Builder
	var id string
	for {
		r, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("%q: body: %v", req, err)
		}
		fmt.Fprintf(&b, "%s %s\n", r.Proto, r.Status)
		b.WriteString(normalHeader(r.Header))
		fmt.Fprintf(&b, "body %q chunked=%v close=%v\n", body, slices.Contains(r.TransferEncoding, "chunked"), r.Close)
		if len(r.Trailer) > 0 {
			b.WriteString("trailers\n" + normalHeader(r.Trailer))
		}
		if v := r.Header.Get("X-Request-Id"); v != "" {
			id = v
		}
		if r.StatusCode >= 200 {
			break
		}
	}
	n, got := rig.app.lastHead()
	if n == n0 {
		return b.String(), "" // the proxy answered
	}
	if id != "" && !strings.Contains(got, "X-Request-Id: "+id+"\r\n") {
		t.Errorf("%q: the app did not get the request id %s the client got:\n%s", req, id, got)
	}
	return b.String(), normalHead(got)
}

// logLines waits for the access log's first n lines and returns them
// without the fields two equal requests do not share (time, request id,
// duration, client port).
func (rig *laneRig) logLines(t *testing.T, n int) []string {
	t.Helper()
	var lines []string
	testutil.Eventually(t, 5*time.Second, fmt.Sprintf("%d access log lines", n), func() bool {
		lines = lines[:0]
		for l := range strings.Lines(rig.log.String()) {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return len(lines) >= n
	})
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("access log line %q: %v", l, err)
		}
		for _, k := range []string{"time", "request_id", "duration", "client_addr"} {
			delete(m, k)
		}
		b, _ := json.Marshal(m)
		lines[i] = string(b)
	}
	return lines[:n]
}

func normalHeader(h http.Header) string {
	var lines []string
	for k, vv := range h {
		for _, v := range vv {
			switch k {
			case "Date", "X-Request-Id":
				v = "<" + strings.ToLower(k) + ">"
			}
			lines = append(lines, strings.ToLower(k)+": "+v)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// normalHead normalises a request head as the app got it: request line,
// then the fields with names in lower case, sorted, the request id
// masked.
func normalHead(head string) string {
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	fields := lines[1:]
	for i, f := range fields {
		k, v, _ := strings.Cut(f, ":")
		k = strings.ToLower(k)
		if k == "x-request-id" {
			v = " <id>"
		}
		fields[i] = k + ":" + v
	}
	slices.Sort(fields)
	return lines[0] + "\n" + strings.Join(fields, "\n")
}

func TestLane_AnswersAsTheHandlerPath(t *testing.T) {
	rig := newLaneRig(t)
	const base = "Host: shop.test\r\nUser-Agent: lane-test\r\n"
	reqs := []string{}
	for path := range rawScripts {
		reqs = append(reqs, "GET "+path+" HTTP/1.1\r\n"+base+"\r\n")
	}
	reqs = append(reqs,
		"HEAD /plain HTTP/1.1\r\n"+base+"\r\n",
		"HEAD /chunked HTTP/1.1\r\n"+base+"\r\n",
		"GET /plain?q=1&r=%20x HTTP/1.1\r\n"+base+"\r\n",
		"GET /plain? HTTP/1.1\r\n"+base+"\r\n",
		"GET /plain HTTP/1.1\r\nhost: SHOP.test:80\r\nuser-agent: x\r\naccept: */*\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"Forwarded: for=1.2.3.4\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nProxy-Authorization: y\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"X-Request-Id: client-id-1\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"X-Request-Id: has space\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"X-Request-Id: a\r\nX-Request-Id: b\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"Cookie: a=1\r\nCookie: b=2\r\nAccept:   spaced value  \r\n\r\n",
		"GET /plain HTTP/1.1\r\nHost: shop.test\r\n\r\n",
		"GET /plain HTTP/1.1\r\n"+base+"Connection: close\r\n\r\n",
		"GET /chunked HTTP/1.1\r\n"+base+"Connection: Close\r\n\r\n",
		"GET /plain HTTP/1.0\r\n"+base+"\r\n",
		"GET /plain HTTP/1.0\r\n"+base+"Connection: keep-alive\r\n\r\n",
		"HEAD /plain HTTP/1.0\r\n"+base+"Connection: keep-alive\r\n\r\n",
		"GET /chunked HTTP/1.0\r\n"+base+"\r\n",
		"GET /chunked HTTP/1.0\r\n"+base+"Connection: keep-alive\r\n\r\n",
		"GET /close HTTP/1.0\r\n"+base+"Connection: keep-alive\r\n\r\n",
		"GET /hints HTTP/1.0\r\n"+base+"Connection: keep-alive\r\n\r\n",
		"GET /204 HTTP/1.0\r\n"+base+"\r\n",
	)
	for i, req := range reqs {
		before := counts(rig.lane).laned.Load()
		laneResp, laneGot := rig.exchange(t, rig.laneAddr, req)
		if counts(rig.lane).laned.Load() == before {
			t.Errorf("%q did not take the lane", req)
		}
		// A server may write its access log line after the client has
		// read the answer: wait for it, so the lines pair up by request.
		rig.logLines(t, 2*i+1)
		leanResp, leanGot := rig.exchange(t, rig.leanAddr, req)
		rig.logLines(t, 2*i+2)
		if laneResp != leanResp {
			t.Errorf("%q: the client got\n%s\nfrom the lane, and\n%s\nfrom the handler path", req, laneResp, leanResp)
		}
		if laneGot != leanGot {
			t.Errorf("%q: the app got\n%s\nfrom the lane, and\n%s\nfrom the handler path", req, laneGot, leanGot)
		}
	}
	lines := rig.logLines(t, 2*len(reqs))
	for i, req := range reqs {
		if lines[2*i] != lines[2*i+1] {
			t.Errorf("%q: access log line\n%s\nfrom the lane, and\n%s\nfrom the handler path", req, lines[2*i], lines[2*i+1])
		}
	}
}

func TestLane_LeavesOtherRequestsToTheHandler(t *testing.T) {
	rig := newLaneRig(t)
	const base = "Host: shop.test\r\n"
	for _, req := range []string{
		"POST /plain HTTP/1.1\r\n" + base + "Content-Length: 0\r\n\r\n",
		"GET /plain HTTP/1.1\r\n" + base + "Content-Length: 3\r\n\r\nabc",
		"GET /plain HTTP/1.0\r\nUser-Agent: no host\r\n\r\n",
		"GET /plain HTTP/1.1\r\n" + base + "Connection: close, x\r\n\r\n",
		"GET /plain HTTP/1.1\r\n" + base + "Connection: keep-alive\r\nConnection: close\r\n\r\n",
		"GET /plain HTTP/1.1\r\n" + base + "Expect: 100-continue\r\n\r\n",
		"GET /plain HTTP/1.1\r\n" + base + "TE: trailers\r\n\r\n",
		"GET /plain HTTP/1.1\r\n" + base + "Pragma: no-cache\r\n\r\n",
		"GET /plain HTTP/1.1\r\n" + base + "Upgrade: websocket\r\n\r\n",
		"GET /pl%61in HTTP/1.1\r\n" + base + "\r\n",
		"GET http://shop.test/plain HTTP/1.1\r\n" + base + "\r\n",
		"GET /plain HTTP/1.1\n" + base + "\r\n",
		"GET /plain HTTP/1.1\r\nHost: other.test\r\n\r\n",
		"GET /.well-known/acme-challenge/x HTTP/1.1\r\n" + base + "\r\n",
		"DELETE /plain HTTP/1.1\r\n" + base + "\r\n",
	} {
		before := counts(rig.lane).laned.Load()
		laneResp, _ := rig.exchange(t, rig.laneAddr, req)
		if counts(rig.lane).laned.Load() != before {
			t.Errorf("%q took the lane", req)
		}
		leanResp, _ := rig.exchange(t, rig.leanAddr, req)
		if laneResp != leanResp {
			t.Errorf("%q: the client got\n%s\nwith the lane on, and\n%s\nwithout", req, laneResp, leanResp)
		}
	}
	// Malformed heads: the handler path refuses them, the lane never sees them.
	for _, req := range []string{
		"GET /plain HTTP/1.1\r\nHost: shop.test\r\nHost: shop.test\r\n\r\n",
		"GET /plain HTTP/1.1\r\nHost: shop.test\r\nBad Name: x\r\n\r\n",
		"GET /plain HTTP/1.1\r\n\r\n",
	} {
		before := counts(rig.lane).laned.Load()
		laneResp, _ := rig.exchange(t, rig.laneAddr, req)
		if counts(rig.lane).laned.Load() != before || !strings.HasPrefix(laneResp, "HTTP/1.1 400") {
			t.Errorf("%q: want a 400 from the handler path, got\n%s", req, laneResp)
		}
	}
}

func TestLane_RouteOptions(t *testing.T) {
	rig := newLaneRig(t)
	req := "GET /plain HTTP/1.1\r\nHost: shop.test\r\n\r\n"
	for _, o := range []RouteOptions{
		{RedirectHTTPS: true},
	} {
		if _, err := rig.px.SetRouteOptions(keyA, []string{"shop.test"}, rig.pool, o); err != nil {
			t.Fatal(err)
		}
		before := counts(rig.lane).laned.Load()
		laneResp, _ := rig.exchange(t, rig.laneAddr, req)
		leanResp, _ := rig.exchange(t, rig.leanAddr, req)
		if counts(rig.lane).laned.Load() != before {
			t.Errorf("%+v: took the lane", o)
		}
		if laneResp != leanResp {
			t.Errorf("%+v: the client got\n%s\nwith the lane on, and\n%s\nwithout", o, laneResp, leanResp)
		}
	}
	// A response timeout and a prefix to strip are kept by the lane (a
	// rig each, so that the access log has their two lines only).
	var before uint64
	for _, c := range []struct {
		o   RouteOptions
		req string
	}{
		{RouteOptions{ResponseTimeout: time.Second}, req},
		{RouteOptions{Paths: []string{"/shop"}, StripPrefix: true}, "GET /shop/plain?a=1 HTTP/1.1\r\nHost: shop.test\r\n\r\n"},
		{RouteOptions{Paths: []string{"/shop"}, StripPrefix: true}, "GET /shop HTTP/1.1\r\nHost: shop.test\r\n\r\n"},
	} {
		rig := newLaneRig(t)
		if _, err := rig.px.SetRouteOptions(keyA, []string{"shop.test"}, rig.pool, c.o); err != nil {
			t.Fatal(err)
		}
		before = counts(rig.lane).laned.Load()
		laneResp, laneGot := rig.exchange(t, rig.laneAddr, c.req)
		leanResp, leanGot := rig.exchange(t, rig.leanAddr, c.req)
		if counts(rig.lane).laned.Load() == before || laneResp != leanResp || laneGot != leanGot {
			t.Errorf("%+v %q: lane taken %v; the client got\n%s\nwith the lane on, and\n%s\nwithout; the app got\n%s\nand\n%s",
				c.o, c.req, counts(rig.lane).laned.Load() != before, laneResp, leanResp, laneGot, leanGot)
		}
		if lines := rig.logLines(t, 2); lines[0] != lines[1] {
			t.Errorf("%+v %q: access log line\n%s\nfrom the lane, and\n%s\nfrom the handler path", c.o, c.req, lines[0], lines[1])
		}
	}
	if _, err := rig.px.SetRouteOptions(keyA, []string{"shop.test"}, rig.pool, RouteOptions{Paths: []string{"/shop"}, StripPrefix: true}); err != nil {
		t.Fatal(err)
	}
	// The client's X-Forwarded-Prefix with a prefix to strip: the handler path's.
	before = counts(rig.lane).laned.Load()
	xfp := "GET /shop/plain HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-Prefix: /x\r\n\r\n"
	if laneResp, _ := rig.exchange(t, rig.laneAddr, xfp); counts(rig.lane).laned.Load() != before || !strings.HasPrefix(laneResp, "HTTP/1.1 200") {
		t.Errorf("X-Forwarded-Prefix with a prefix to strip: want the handler path's 200, got\n%s", laneResp)
	}
	if _, err := rig.px.SetRouteOptions(keyA, []string{"shop.test"}, rig.pool, RouteOptions{}); err != nil {
		t.Fatal(err)
	}
	rig.px.SetMaintenance("shop", "production", true, nil)
	before = counts(rig.lane).laned.Load()
	if resp, _ := rig.exchange(t, rig.laneAddr, req); !strings.HasPrefix(resp, "HTTP/1.1 503") || counts(rig.lane).laned.Load() != before {
		t.Errorf("maintenance: want 503 from the handler path, got\n%s", resp)
	}
}

// FuzzLaneHead: a head the lane takes is one the full parser accepts, and
// both read it alike: method, target, path, Host, and the header fields
// passed on (the lane's, by name without case) are those of the parsed
// header without the ones the proxy drops or rewrites.
func FuzzLaneHead(f *testing.F) {
	for _, h := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /x?y=1 HTTP/1.1\r\nhost: A.b:80\r\nUser-Agent: u\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: a\r\nAccept:  x \t\r\nConnection: keep-alive\r\nX-Request-Id: i\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: a\r\nCookie: a\r\nCookie: b\r\nKeep-Alive: 1\r\n\r\n",
		"GET /%41 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
	} {
		f.Add(h)
	}
	var q laneReq
	f.Fuzz(func(t *testing.T, head string) {
		if !strings.HasSuffix(head, "\r\n\r\n") || wire.HeadEnd([]byte(head)) != len(head) {
			return // readHead hands over whole heads only
		}
		if !parseLaneHead(head, &q) {
			return
		}
		r, err := leanReadRequest(head)
		if err != nil {
			t.Fatalf("the lane took %q, the parser refused it: %v", head, err)
		}
		if r.Method != q.method || r.RequestURI != q.target || r.URL.Path != q.path || r.Host != q.host {
			t.Fatalf("%q: lane %s %s %s %s, parser %s %s %s %s", head, q.method, q.target, q.path, q.host,
				r.Method, r.RequestURI, r.URL.Path, r.Host)
		}
		if r.ContentLength != 0 || r.Close != q.close || (r.ProtoMinor == 0) != q.http10 {
			t.Fatalf("%q: lane close %v http10 %v, parser: body %d close %v minor %d", head, q.close, q.http10,
				r.ContentLength, r.Close, r.ProtoMinor)
		}
		want := map[string][]string{}
		for k, vv := range r.Header {
			switch k {
			case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
				"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id":
				continue
			}
			want[k] = vv
		}
		got := map[string][]string{}
		for _, fl := range q.fwd[:q.nfwd] {
			k := http.CanonicalHeaderKey(q.head[fl[0]:fl[1]])
			got[k] = append(got[k], q.head[fl[2]:fl[3]])
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: the lane passes on %v, the parser read %v", head, got, want)
		}
		if ids := r.Header["X-Request-Id"]; (len(ids) == 1 && saneRequestID(ids[0])) != (q.id != "") {
			t.Fatalf("%q: request id %v, lane %q", head, ids, q.id)
		}
	})
}

// TestLane_PipelinedRequests: requests sent back to back on one connection
// are answered in order, each on the lane, the non-lane one in between by
// the handler path.
func TestLane_PipelinedRequests(t *testing.T) {
	rig := newLaneRig(t)
	c, err := net.Dial("tcp", rig.laneAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	before := counts(rig.lane).laned.Load()
	const h = "Host: shop.test\r\n\r\n"
	if _, err := io.WriteString(c, "GET /plain HTTP/1.1\r\n"+h+"DELETE /nodate HTTP/1.1\r\n"+h+"GET /chunked HTTP/1.1\r\n"+h+"HEAD /big HTTP/1.1\r\n"+h); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, want := range []struct {
		method, body string
	}{{"GET", "hello"}, {"DELETE", "ok"}, {"GET", "hello world"}, {"HEAD", ""}} {
		r, err := http.ReadResponse(br, &http.Request{Method: want.method})
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil || string(body) != want.body {
			t.Fatalf("%s: body %q (%v), want %q", want.method, body, err, want.body)
		}
	}
	if n := counts(rig.lane).laned.Load() - before; n != 3 {
		t.Errorf("%d requests took the lane, want 3", n)
	}
}

// leanReadRequest parses head as the handler path does.
func leanReadRequest(head string) (*http.Request, error) {
	r := &http.Request{URL: &url.URL{}, Header: http.Header{}}
	_, err := wire.FillRequest(head, r, nil)
	return r, err
}
