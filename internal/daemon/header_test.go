package daemon

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStdMaxHeaderBytes_LeavesRoomForNetHTTPSlack(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{64 << 10, 60 << 10}, {8192, 4096}, {4097, 1}, {4096, 4096}, {1000, 1000},
	} {
		if got := stdMaxHeaderBytes(tc.n); got != tc.want {
			t.Errorf("stdMaxHeaderBytes(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// A request head around an X-Pad header.
const headStart, headEnd = "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Pad: ", "\r\n\r\n"

// head is a request head of exactly n bytes, request line included.
func head(n int) string {
	return headStart + strings.Repeat("a", n-len(headStart)-len(headEnd)) + headEnd
}

// net/http with stdMaxHeaderBytes(n) takes a head of n bytes and answers
// 431 to one of n+1, as --max-header-bytes n says.
func TestStdMaxHeaderBytes_NetHTTPRefusesOneByteOver(t *testing.T) {
	for _, n := range []int{8192, 64 << 10} {
		srv := newServer(stdMaxHeaderBytes(n))
		srv.Start()
		for _, tc := range []struct {
			size int
			want string
		}{{n, "HTTP/1.1 200 OK"}, {n + 1, "HTTP/1.1 431 Request Header Fields Too Large"}} {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(head(tc.size))); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if got := strings.TrimSpace(line); got != tc.want {
				t.Errorf("--max-header-bytes %d, head of %d bytes: %q, %v; want %s", n, tc.size, got, err, tc.want)
			}
		}
		srv.Close()
	}
}

// HTTP/2 reads MaxHeaderBytes as its header list limit, padded by 320
// bytes rather than 4096: the HTTPS listener keeps n, or HTTP/2 clients
// (most clients over TLS) would be refused heads under the limit.
func TestHTTPSMaxHeaderBytes_HTTP2TakesAHeadUnderTheLimit(t *testing.T) {
	const n = 64 << 10
	pad := strings.Repeat("a", n-len(headStart)-len(headEnd)) // the HTTP/1.1 head would be n bytes
	for _, tc := range []struct {
		max int
		ok  bool
	}{{n, true}, {stdMaxHeaderBytes(n), false}} {
		srv := newServer(tc.max)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Pad", pad)
		resp, err := srv.Client().Do(req)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("%s, want HTTP/2", resp.Proto)
			}
		}
		if ok != tc.ok {
			t.Errorf("HTTP/2, MaxHeaderBytes %d: %s; accepted %v, want %v", tc.max, describeResult(resp, err), ok, tc.ok)
		}
		srv.Close()
	}
}

// newServer is an unstarted test server that answers 200 and reads heads
// with net/http's MaxHeaderBytes max.
func newServer(max int) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.MaxHeaderBytes = max
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

func describeResult(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprint(resp.StatusCode)
}
