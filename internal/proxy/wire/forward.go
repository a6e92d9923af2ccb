package wire

import (
	"bufio"
	"net/http"
	"strings"
)

// Forwarded is what a proxy tells a target about the request it passes
// on, in its own header fields: X-Forwarded-For, -Host, -Proto, the
// request id and, when a route strips a path prefix, X-Forwarded-Prefix.
// Write puts them on the wire, Set into a header map: the same fields
// with the same values (both read them from forwardedField).
type Forwarded struct {
	// Prior are the client's own X-Forwarded-For values (PriorFor), kept
	// in front of ClientIP.
	Prior []string
	// ClientIP is the client's address; "" writes no X-Forwarded-For.
	ClientIP string
	// Host is the request's host (X-Forwarded-Host), TLS whether it
	// came over TLS (X-Forwarded-Proto: https, else http).
	Host string
	TLS  bool
	// RequestID is the request's X-Request-Id values (one, in practice).
	RequestID []string
	// Prefix is the path prefix the route stripped ("" when none).
	Prefix string
}

// The fields of Forwarded, in the order they are written.
const (
	fwdFor = iota
	fwdHost
	fwdProto
	fwdRequestID
	fwdPrefix
	fwdFields
)

// forwardedHeads are the canonical names of Forwarded's fields, each
// with the ": " that follows it on the wire.
var forwardedHeads = [fwdFields]string{
	fwdFor:       "X-Forwarded-For: ",
	fwdHost:      "X-Forwarded-Host: ",
	fwdProto:     "X-Forwarded-Proto: ",
	fwdRequestID: "X-Request-Id: ",
	fwdPrefix:    "X-Forwarded-Prefix: ",
}

// forwardedName is the canonical name of field i.
func forwardedName(i int) string { h := forwardedHeads[i]; return h[:len(h)-2] }

// Header values of X-Forwarded-Proto, shared (never appended to).
var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// forwardedField is the one rule of what f says in field i: its lines
// (more, one line each, then last), or none (ok false). A field of one
// line whose value joins several parts (X-Forwarded-For: prior, ip) has
// the parts in list, joined with ", ".
func (f *Forwarded) forwardedField(i int) (list, more []string, last string, ok bool) {
	switch i {
	case fwdFor:
		return f.Prior, nil, f.ClientIP, f.ClientIP != ""
	case fwdHost:
		return nil, nil, f.Host, true
	case fwdProto:
		if f.TLS {
			return nil, nil, "https", true
		}
		return nil, nil, "http", true
	case fwdRequestID:
		if n := len(f.RequestID); n > 0 {
			return nil, f.RequestID[:n-1], f.RequestID[n-1], true
		}
	case fwdPrefix:
		return nil, nil, f.Prefix, f.Prefix != ""
	}
	return nil, nil, "", false
}

// Drops reports whether a client's field fl is left out of a request
// that carries f's fields: the fields Field.Dropped says, and the
// client's X-Forwarded-Prefix when the route stripped a prefix
// (f.Prefix), which f's replaces. Whoever writes a client's fields
// beside Write's skips these; Set deletes them but the hop-by-hop ones.
func (f *Forwarded) Drops(fl Field) bool { return fl.Dropped() || f.replaces(fl) }

// replaces reports whether f writes fl itself, in place of a client's
// (or drops it: Forwarded).
func (f *Forwarded) replaces(fl Field) bool {
	return fl.Proxied() || (fl == FieldXForwardedPrefix && f.Prefix != "")
}

// Write writes f's fields as header lines ("Name: value\r\n"). They
// come after the client's fields, so that a Connection header naming
// them cannot take them off. The lines are appended straight into bw's
// free buffer (one Write); only when they do not fit there does the
// append allocate.
func (f *Forwarded) Write(bw *bufio.Writer) {
	bw.Write(f.AppendTo(bw.AvailableBuffer()))
}

// AppendTo appends f's header lines to b, as Write writes them.
func (f *Forwarded) AppendTo(b []byte) []byte {
	for i := range fwdFields {
		list, more, last, ok := f.forwardedField(i)
		if !ok {
			continue
		}
		head := forwardedHeads[i]
		for _, v := range more {
			b = append(b, head...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
		b = append(b, head...)
		for _, v := range list {
			b = append(b, v...)
			b = append(b, ", "...)
		}
		b = append(b, last...)
		b = append(b, "\r\n"...)
	}
	return b
}

// Set puts f's fields into h, the header of a request for a target, and
// drops from h the fields a client may not set (Field.Proxied,
// Field.Spoofable, and X-Forwarded-Prefix when f.Prefix replaces it:
// Drops): what Write writes, the same values. Hop-by-hop fields
// are the caller's (httputil.ReverseProxy removes them, then puts back an
// upgrade's).
func (f *Forwarded) Set(h http.Header) {
	for k := range h {
		if fl := Lookup(k); f.replaces(fl) || fl.Spoofable() {
			delete(h, k)
		}
	}
	for i := range fwdFields {
		list, more, last, ok := f.forwardedField(i)
		if !ok {
			continue
		}
		name := forwardedName(i)
		switch {
		case i == fwdProto && f.TLS:
			h[name] = protoHTTPS
		case i == fwdProto:
			h[name] = protoHTTP
		case i == fwdRequestID && len(more) == 0 && len(f.RequestID) == 1:
			h[name] = f.RequestID // the caller's slice: no allocation
		case len(list) > 0:
			h[name] = []string{joinList(list, last)}
		default:
			h[name] = append(more[:len(more):len(more)], last)
		}
	}
}

// joinList is list's values and last joined with ", ", as Write writes
// them.
func joinList(list []string, last string) string {
	n := len(last)
	for _, v := range list {
		n += len(v) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range list {
		b.WriteString(v)
		b.WriteString(", ")
	}
	b.WriteString(last)
	return b.String()
}

// PriorFor is the client's X-Forwarded-For in h, unless h's Connection
// header names it hop-by-hop.
func PriorFor(h http.Header) []string {
	prior := h["X-Forwarded-For"]
	if conn := h["Connection"]; len(prior) > 0 && len(conn) > 0 && TokenListed(conn, "X-Forwarded-For") {
		return nil
	}
	return prior
}

// StripPrefix returns path without prefix (which it starts with): "/"
// when nothing is left. The request then carries X-Forwarded-Prefix
// (Forwarded.Prefix).
func StripPrefix(path, prefix string) string {
	if rest := path[len(prefix):]; rest != "" {
		return rest
	}
	return "/"
}
