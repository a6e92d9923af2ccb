package upstream

import (
	"bufio"
	"io"
	"net/http"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// CopyBody copies the body of a response, framed as rh says, from br
// (the target's connection) to w, flushing w whenever br has nothing more
// buffered (so streams stream and short bodies go out in one write).
// Trailers go into h (declared ones under their names, others under
// http.TrailerPrefix), read through *scratch with at most maxHeader bytes
// of fields. clientErr tells whether err came from writing to the client.
// The bytes written to w are added to *n.
func CopyBody(w http.ResponseWriter, br *bufio.Reader, scratch *[]byte, h http.Header, rh wire.ResponseHead, maxHeader int, n *int64) (clientErr bool, err error) {
	return copyBody(w, br, scratch, h, rh, maxHeader, n, nil)
}

// copyBody is CopyBody, with s for an event stream's body (nil for any
// other).
func copyBody(w http.ResponseWriter, br *bufio.Reader, scratch *[]byte, h http.Header, rh wire.ResponseHead, maxHeader int, n *int64, s *streamCopy) (clientErr bool, err error) {
	fl, _ := w.(http.Flusher)
	bc := bodyCopier{w: w, fl: fl, br: br, n: n, s: s}
	switch rh.Kind {
	case wire.BodyNone:
		return false, nil
	case wire.BodyLength:
		return bc.copyN(rh.Length)
	case wire.BodyClose:
		for {
			if err := bc.fill(); err != nil {
				if err == io.EOF {
					return false, nil
				}
				return false, err
			}
			if ce, err := bc.copyN(int64(br.Buffered())); err != nil {
				return ce, err
			}
		}
	}
	// chunked
	for {
		if err := bc.fill(); err != nil {
			return false, EOFUnexpected(err)
		}
		line, err := wire.ReadLine(br, maxHeader)
		if err != nil {
			return false, bc.fail(EOFUnexpected(err))
		}
		n, err := wire.ParseChunkSize(line)
		if err != nil {
			return false, err
		}
		if n == 0 {
			break
		}
		if ce, err := bc.copyN(n); err != nil {
			return ce, err
		}
		if err := bc.fill(); err != nil {
			return false, EOFUnexpected(err)
		}
		if line, err := wire.ReadLine(br, maxHeader); err != nil || len(line) != 0 {
			if err == nil {
				return false, wire.ErrMalformed
			}
			return false, bc.fail(EOFUnexpected(err))
		}
	}
	return false, readTrailers(w, br, scratch, h, rh, maxHeader)
}

// readTrailers reads the trailer section after the last chunk into h: a
// declared trailer under its name, an undeclared one under
// http.TrailerPrefix.
func readTrailers(w http.ResponseWriter, br *bufio.Reader, scratch *[]byte, h http.Header, rh wire.ResponseHead, maxHeader int) error {
	var arr [8]wire.FieldPos
	var err error
	var fs []wire.FieldPos
	*scratch, fs, err = wire.ReadFields(br, *scratch, arr[:0], maxHeader)
	if err != nil {
		return EOFUnexpected(err)
	}
	if len(fs) == 0 {
		return nil
	}
	// Force chunking, as httputil.ReverseProxy does when it saw trailers.
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	s := string(*scratch)
	declared := h["Trailer"]
	for _, f := range fs {
		k, v := s[f.K0:f.K1], s[f.V0:f.V1]
		if !rh.Trailers || !wire.TokenListed(declared, k) {
			k = http.TrailerPrefix + k
		}
		h[k] = append(h[k], v)
	}
	return nil
}

// EOFUnexpected is err, but io.ErrUnexpectedEOF for io.EOF: a response
// cut short.
func EOFUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// bodyCopier moves body bytes from a connection's read buffer to the
// client, with no copy buffer of its own.
type bodyCopier struct {
	w       http.ResponseWriter
	fl      http.Flusher
	br      *bufio.Reader
	n       *int64 // bytes written to w
	pending bool   // written to w since the last flush
	s       *streamCopy
}

// fail is err, a failed read of the body, or ErrStreamEnded when the
// proxy ended an event stream between two events.
func (bc *bodyCopier) fail(err error) error {
	if bc.s != nil && bc.s.ended() {
		return ErrStreamEnded
	}
	return err
}

// fill makes sure c has buffered bytes, flushing w first when it has to
// wait for the target.
func (bc *bodyCopier) fill() error {
	if bc.br.Buffered() > 0 {
		return nil
	}
	if bc.pending && bc.fl != nil {
		bc.fl.Flush()
		bc.pending = false
	}
	_, err := bc.br.Peek(1)
	if err != nil {
		return bc.fail(err)
	}
	return nil
}

func (bc *bodyCopier) copyN(n int64) (clientErr bool, err error) {
	br := bc.br
	for n > 0 {
		if err := bc.fill(); err != nil {
			return false, EOFUnexpected(err)
		}
		m := br.Buffered()
		if int64(m) > n {
			m = int(n)
		}
		b, _ := br.Peek(m)
		end := false
		if bc.s != nil {
			m, end = bc.s.take(b)
			b = b[:m]
		}
		wn, err := bc.w.Write(b)
		*bc.n += int64(wn)
		if err != nil {
			return true, err
		}
		if bc.s != nil {
			bc.s.wrote(b)
		}
		_, _ = br.Discard(m)
		n -= int64(m)
		bc.pending = true
		if end {
			if bc.fl != nil {
				bc.fl.Flush()
			}
			return false, ErrStreamEnded
		}
	}
	return false, nil
}
