package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// Request bodies of the lean server: Content-Length and chunked framing
// read from the connection's buffer. A body is its own object (not reused
// with the connection) and locked: the Transport that forwards it may
// still read it after the handler returned, when it only gets
// http.ErrBodyReadAfterClose.

// maxDiscard is how much of an unread request body the server reads away
// to keep the connection; beyond it the connection is closed.
const maxDiscard = 256 << 10

var errChunkLine = errors.New("malformed chunked request body")

type bodyReader struct {
	mu      sync.Mutex
	c       *serverConn
	r       *http.Request
	n       int64 // bytes left: of the body, or of the current chunk
	chunked bool
	crlf    bool // a chunk's data ended: its CRLF comes next
	// needContinue: the client waits for "100 Continue" before sending.
	needContinue bool
	err          error // sticky: io.EOF once the body was read whole
	closed       bool
}

func newBodyReader(c *serverConn, r *http.Request) *bodyReader {
	b := &bodyReader{c: c, r: r, n: r.ContentLength}
	if r.ContentLength < 0 {
		b.chunked, b.n = true, 0
	}
	return b
}

// Read reads the body; after the handler returned it fails.
func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.read(p)
}

// Close is a no-op: the server reads away or cuts what is left when the
// handler returns.
func (b *bodyReader) Close() error { return nil }

func (b *bodyReader) read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.needContinue {
		b.needContinue = false
		b.c.w.writeContinue()
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.chunked && b.n == 0 {
		if err := b.nextChunk(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.c.br.Read(p)
	b.n -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return n, err
	}
	if b.n == 0 {
		if b.chunked {
			b.crlf = true
		} else {
			b.done()
		}
	}
	return n, nil
}

// done records the end of the body: the connection may be watched.
func (b *bodyReader) done() {
	b.err = io.EOF
	b.c.bodyDone()
}

// nextChunk reads up to the next chunk's data (or through the trailers of
// the last chunk, returning io.EOF).
func (b *bodyReader) nextChunk() error {
	br := b.c.br
	fail := func(err error) error {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return err
	}
	if b.crlf {
		var two [2]byte
		if _, err := io.ReadFull(br, two[:]); err != nil {
			return fail(err)
		}
		if two != [2]byte{'\r', '\n'} {
			return fail(errChunkLine)
		}
		b.crlf = false
	}
	line, err := readChunkLine(br)
	if err != nil {
		return fail(err)
	}
	n, err := wire.ParseChunkSize(line)
	if err != nil {
		return fail(errChunkLine)
	}
	if n > 0 {
		b.n = n
		return nil
	}
	if err := b.readTrailers(); err != nil {
		return fail(err)
	}
	b.done()
	return io.EOF
}

// readTrailers reads the trailer section into the request's Trailer.
func (b *bodyReader) readTrailers() error {
	budget := b.c.srv.opts.MaxHeaderBytes
	for {
		line, err := readChunkLine(b.c.br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if budget -= len(line); budget < 0 {
			return errChunkLine
		}
		k, v, ok := strings.Cut(string(line), ":")
		key, valid, _ := wire.CanonicalKey(k)
		if !ok || !valid {
			return errChunkLine
		}
		if b.r.Trailer == nil {
			b.r.Trailer = http.Header{}
		}
		b.r.Trailer[key] = append(b.r.Trailer[key], strings.Trim(v, " \t"))
	}
}

// readChunkLine reads one line of chunked framing (a chunk size or a
// trailer), without its CRLF; it must fit the read buffer.
func readChunkLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errChunkLine
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// finish ends the body when the handler returned: reads what is left (up
// to maxDiscard) so the connection can serve its next request. false
// means the connection must close.
func (b *bodyReader) finish() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.needContinue {
		// The client still waits for 100 Continue: its body never came.
		return false
	}
	if b.err == nil && !b.chunked && b.n > maxDiscard {
		return false
	}
	var buf [4 << 10]byte
	for budget := maxDiscard; b.err == nil && budget > 0; {
		n, _ := b.read(buf[:min(len(buf), budget)])
		budget -= n
	}
	return b.err == io.EOF
}
