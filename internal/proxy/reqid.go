package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync/atomic"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// requestIDHeader is the canonical form of X-Request-Id.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an X-Request-Id taken from a client.
const maxRequestIDLen = 128

// idGen makes request ids: a random prefix fixed when the pool is made and
// a counter, e.g. "5e0c9a1f3b7d2e48-0000000000000001". Making one costs an
// atomic add and the id's string.
type idGen struct {
	prefix [16]byte // hex
	n      atomic.Uint64
}

func newIDGen() *idGen {
	g := &idGen{}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	hex.Encode(g.prefix[:], b[:])
	return g
}

func (g *idGen) next() string {
	const digits = "0123456789abcdef"
	var b [len(g.prefix) + 1 + 16]byte
	copy(b[:], g.prefix[:])
	b[len(g.prefix)] = '-'
	n := g.n.Add(1)
	for i := len(b) - 1; i > len(g.prefix); i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b[:])
}

// saneRequestID reports whether a client's X-Request-Id may be passed on:
// 1 to maxRequestIDLen visible ASCII characters.
func saneRequestID(v string) bool {
	if len(v) == 0 || len(v) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// clientRequestID returns r's X-Request-Id as a header value when it is
// one sane value, else nil.
func clientRequestID(r *http.Request) []string {
	if v := r.Header[requestIDHeader]; len(v) == 1 && saneRequestID(v[0]) {
		return v
	}
	return nil
}

// requestID returns r's request id as a header value: the client's
// X-Request-Id when it is one sane value (and its Connection header does
// not name it hop-by-hop), else a new one, which replaces the client's on
// r (so the target gets it).
func (p *Pool) requestID(r *http.Request) []string {
	if v := clientRequestID(r); v != nil {
		if conn := r.Header["Connection"]; len(conn) == 0 || !wire.TokenListed(conn, requestIDHeader) {
			return v
		}
	}
	ids := []string{p.ids.next()}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header[requestIDHeader] = ids
	return ids
}
