package wire

import (
	"bufio"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// stdReadRequest parses head as net/http's server does: http.ReadRequest
// plus the checks of its conn.readRequest (protocol version, Host, header
// names and values). It is the reference of FuzzParseRequestHead.
func stdReadRequest(head string) (*http.Request, error) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		return nil, err
	}
	if r.ProtoMajor != 1 && !(r.ProtoMajor == 2 && r.ProtoMinor == 0 && r.Method == "PRI" && r.RequestURI == "*") {
		return nil, errors.New("unsupported protocol version")
	}
	// http.ReadRequest drops the Host header the server looks at: read
	// the header again as readRequest did.
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(head)))
	_, _ = tp.ReadLine()
	mh, _ := tp.ReadMIMEHeader()
	hosts, haveHost := mh["Host"]
	if r.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && r.Method != "CONNECT" &&
		!(r.Method == "PRI" && r.RequestURI == "*") {
		return nil, errors.New("missing required Host header")
	}
	if len(hosts) == 1 && !ValidHost(hosts[0]) {
		return nil, errors.New("malformed Host header")
	}
	for k, vv := range r.Header {
		if !IsToken(k) {
			return nil, errors.New("invalid header name")
		}
		for _, v := range vv {
			for i := 0; i < len(v); i++ {
				if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
					return nil, errors.New("invalid header value")
				}
			}
		}
	}
	delete(r.Header, "Host")
	return r, nil
}

// leanReadRequest parses head with FillRequest.
func leanReadRequest(head string) (*http.Request, error) {
	r := &http.Request{URL: &url.URL{}, Header: http.Header{}}
	_, err := FillRequest(head, r, nil)
	return r, err
}

func fuzzSeeds() []string {
	return []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /p/a;b=c/d?x=1&y=%20 HTTP/1.1\r\nHost: shop.test:8080\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n",
		"get /%2Fa%zz HTTP/1.1\nhost: a\nx-a:  b \n\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, x-b\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST /up HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET http://other.test/x?y HTTP/1.1\r\nHost: a\r\n\r\n",
		"CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.5\r\nHost: a\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET /a? HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\nConnection: close\r\n\r\n",
		"GET /a?? HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 0009223372036854775807\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n",
		"GET /é HTTP/1.1\r\nHost: a\r\nX-É: v\r\nX-B: é\r\n\r\n",
	}
}

// FuzzParseRequestHead holds FillRequest to net/http's semantics: a
// head it accepts, net/http accepts with the same fields; a head it refuses
// (but for the forms it refuses on purpose, HeadError.Strict), net/http
// refuses. The seeds are above and in testdata/fuzz/FuzzParseRequestHead.
func FuzzParseRequestHead(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n := HeadEnd([]byte(in))
		if n == 0 {
			return
		}
		head := in[:n]
		lean, lerr := leanReadRequest(head)
		std, serr := stdReadRequest(head)
		if lerr != nil {
			var he *HeadError
			if !errors.As(lerr, &he) {
				t.Fatalf("%q: error %v is not a HeadError", head, lerr)
			}
			if serr == nil && !he.Strict {
				t.Fatalf("%q: lean refuses (%v), net/http accepts", head, lerr)
			}
			return
		}
		if serr != nil {
			t.Fatalf("%q: lean accepts, net/http refuses: %v", head, serr)
		}
		compareRequests(t, head, lean, std)
	})
}

func compareRequests(t *testing.T, head string, lean, std *http.Request) {
	t.Helper()
	type fields struct {
		Method, RequestURI, Proto, Host string
		ProtoMajor, ProtoMinor          int
		URL                             url.URL
		Header, Trailer                 http.Header
		ContentLength                   int64
		TransferEncoding                []string
		Close                           bool
	}
	get := func(r *http.Request) fields {
		h := r.Header
		if len(h) == 0 {
			h = nil
		}
		return fields{r.Method, r.RequestURI, r.Proto, r.Host, r.ProtoMajor, r.ProtoMinor, *r.URL,
			h, r.Trailer, r.ContentLength, r.TransferEncoding, r.Close}
	}
	if l, s := get(lean), get(std); !reflect.DeepEqual(l, s) {
		t.Fatalf("%q:\nlean %+v\nstd  %+v", head, l, s)
	}
}

func TestParseRequestHead_Seeds(t *testing.T) {
	for _, s := range fuzzSeeds() {
		n := HeadEnd([]byte(s))
		if n == 0 {
			t.Fatalf("%q: no head end", s)
		}
		_, lerr := leanReadRequest(s[:n])
		_, serr := stdReadRequest(s[:n])
		t.Logf("%q: lean %v, std %v", s[:n], lerr, serr)
	}
}
