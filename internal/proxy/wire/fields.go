package wire

import "strings"

// Field names a header field a proxy treats in its own way. Every other
// field is Other: passed on as it came.
type Field uint8

// The fields a proxy knows. Their order matters: the hop-by-hop ones, the
// proxy's own and the spoofable ones are runs of constants (HopByHop,
// Proxied, Spoofable test ranges).
const (
	Other Field = iota

	// Hop-by-hop (RFC 9110 7.6.1, and the ones httputil.ReverseProxy
	// removes): meant for one connection, never passed on.
	FieldConnection
	FieldKeepAlive
	FieldProxyConnection
	FieldProxyAuthenticate
	FieldProxyAuthorization
	FieldTE
	FieldTrailer
	FieldTransferEncoding
	FieldUpgrade

	// Written by the proxy itself: a client's is not passed on as it
	// came (X-Forwarded-For keeps its values in front of the proxy's;
	// Forwarded is dropped).
	FieldForwarded
	FieldXForwardedFor
	FieldXForwardedHost
	FieldXForwardedProto
	FieldXRequestID

	// Spoofable: headers some apps read to learn the client's scheme,
	// port or address, which the proxy does not set. A client's own
	// would tell the app plain HTTP is HTTPS (X-Forwarded-Ssl: on), so
	// they are dropped. X-Forwarded-For and -Proto say it.
	FieldXForwardedSsl
	FieldXForwardedScheme
	FieldXForwardedProtocol
	FieldXForwardedPort
	FieldXUrlScheme
	FieldFrontEndHTTPS
	FieldXRealIP

	// Fields a proxy reads but passes on (or frames) itself.
	FieldHost
	FieldContentLength
	FieldExpect
	FieldPragma
	FieldUserAgent
	FieldXForwardedPrefix
)

// HopByHop reports whether f is a hop-by-hop field.
func (f Field) HopByHop() bool { return FieldConnection <= f && f <= FieldUpgrade }

// Proxied reports whether the proxy writes f itself (or drops it:
// Forwarded).
func (f Field) Proxied() bool { return FieldForwarded <= f && f <= FieldXRequestID }

// Spoofable reports whether f is a client's claim about its scheme,
// port or address that the proxy drops.
func (f Field) Spoofable() bool { return FieldXForwardedSsl <= f && f <= FieldXRealIP }

// Dropped reports whether a client's f never reaches a target as it
// came: hop-by-hop, the proxy's own, or spoofable. (A Connection header
// drops the fields it lists too: TokenListed.)
func (f Field) Dropped() bool { return FieldConnection <= f && f <= FieldXRealIP }

// ResponseHop reports whether a target's response field f is meant for
// the proxy's connection to it and does not reach the client: the
// hop-by-hop fields but Trailer (the client's response announces its
// trailers too) and Proxy-Authorization (a request field).
func (f Field) ResponseHop() bool {
	return f.HopByHop() && f != FieldTrailer && f != FieldProxyAuthorization
}

// Lookup returns the Field of the header name (any case), Other for a
// name a proxy passes on without looking at it. It compares lengths
// first: most names are decided without comparing a byte.
func Lookup[T string | []byte](name T) Field {
	switch len(name) {
	case 2:
		if is(name, "Te") {
			return FieldTE
		}
	case 4:
		if is(name, "Host") {
			return FieldHost
		}
	case 6:
		switch {
		case is(name, "Expect"):
			return FieldExpect
		case is(name, "Pragma"):
			return FieldPragma
		}
	case 7:
		switch {
		case is(name, "Upgrade"):
			return FieldUpgrade
		case is(name, "Trailer"):
			return FieldTrailer
		}
	case 9:
		switch {
		case is(name, "Forwarded"):
			return FieldForwarded
		case is(name, "X-Real-Ip"):
			return FieldXRealIP
		}
	case 10:
		switch {
		case is(name, "Connection"):
			return FieldConnection
		case is(name, "Keep-Alive"):
			return FieldKeepAlive
		case is(name, "User-Agent"):
			return FieldUserAgent
		}
	case 12:
		switch {
		case is(name, "X-Request-Id"):
			return FieldXRequestID
		case is(name, "X-Url-Scheme"):
			return FieldXUrlScheme
		}
	case 14:
		if is(name, "Content-Length") {
			return FieldContentLength
		}
	case 15:
		switch {
		case is(name, "X-Forwarded-For"):
			return FieldXForwardedFor
		case is(name, "X-Forwarded-Ssl"):
			return FieldXForwardedSsl
		case is(name, "Front-End-Https"):
			return FieldFrontEndHTTPS
		}
	case 16:
		switch {
		case is(name, "Proxy-Connection"):
			return FieldProxyConnection
		case is(name, "X-Forwarded-Host"):
			return FieldXForwardedHost
		case is(name, "X-Forwarded-Port"):
			return FieldXForwardedPort
		}
	case 17:
		switch {
		case is(name, "Transfer-Encoding"):
			return FieldTransferEncoding
		case is(name, "X-Forwarded-Proto"):
			return FieldXForwardedProto
		}
	case 18:
		switch {
		case is(name, "Proxy-Authenticate"):
			return FieldProxyAuthenticate
		case is(name, "X-Forwarded-Prefix"):
			return FieldXForwardedPrefix
		case is(name, "X-Forwarded-Scheme"):
			return FieldXForwardedScheme
		}
	case 19:
		if is(name, "Proxy-Authorization") {
			return FieldProxyAuthorization
		}
	case 20:
		if is(name, "X-Forwarded-Protocol") {
			return FieldXForwardedProtocol
		}
	}
	return Other
}

// is reports whether name is canon (canonical, of name's length), in
// any case: the canonical spelling, which header maps hold, costs one
// comparison. Small enough to be inlined into Lookup.
func is[T string | []byte](name T, canon string) bool {
	return string(name) == canon || sameFold(name, canon)
}

// sameFold reports whether a equals b, of the same length, but for the
// case of ASCII letters.
func sameFold[T string | []byte](a T, b string) bool {
	for i := 0; i < len(b); i++ {
		if x, y := a[i]|0x20, b[i]|0x20; x != y || (x < 'a' || x > 'z') && a[i] != b[i] {
			return false
		}
	}
	return true
}

// foldEqual reports whether a equals b but for the case of ASCII
// letters.
func foldEqual[T string | []byte](a T, b string) bool {
	return len(a) == len(b) && sameFold(a, b)
}

// TokenListed reports whether the comma-separated lists vals name k
// (case-insensitively), as a Connection header names hop-by-hop fields.
func TokenListed(vals []string, k string) bool {
	for _, v := range vals {
		for v != "" {
			tok := v
			if i := strings.IndexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				v = ""
			}
			if strings.EqualFold(strings.TrimSpace(tok), k) {
				return true
			}
		}
	}
	return false
}
