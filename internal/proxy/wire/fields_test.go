package wire

import (
	"strings"
	"testing"
)

func TestLookup_KnowsEveryFieldInAnyCase(t *testing.T) {
	want := map[string]Field{
		"Connection": FieldConnection, "Keep-Alive": FieldKeepAlive, "Proxy-Connection": FieldProxyConnection,
		"Proxy-Authenticate": FieldProxyAuthenticate, "Proxy-Authorization": FieldProxyAuthorization,
		"Te": FieldTE, "Trailer": FieldTrailer, "Transfer-Encoding": FieldTransferEncoding, "Upgrade": FieldUpgrade,
		"Forwarded": FieldForwarded, "X-Forwarded-For": FieldXForwardedFor, "X-Forwarded-Host": FieldXForwardedHost,
		"X-Forwarded-Proto": FieldXForwardedProto, "X-Request-Id": FieldXRequestID,
		"X-Forwarded-Ssl": FieldXForwardedSsl, "X-Forwarded-Scheme": FieldXForwardedScheme,
		"X-Forwarded-Protocol": FieldXForwardedProtocol, "X-Forwarded-Port": FieldXForwardedPort,
		"X-Url-Scheme": FieldXUrlScheme, "Front-End-Https": FieldFrontEndHTTPS, "X-Real-Ip": FieldXRealIP,
		"Host": FieldHost, "Content-Length": FieldContentLength, "Expect": FieldExpect, "Pragma": FieldPragma,
		"User-Agent": FieldUserAgent, "X-Forwarded-Prefix": FieldXForwardedPrefix,
		"Accept": Other, "X-Forwarded": Other, "Tee": Other, "": Other, "Content-Type": Other,
	}
	for name, f := range want {
		for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			if got := Lookup(n); got != f {
				t.Errorf("Lookup(%q) = %d, want %d", n, got, f)
			}
		}
	}
}

// TestField_Classes pins the sets: what a proxy drops from a request, and
// what of a response it keeps for its own connection.
func TestField_Classes(t *testing.T) {
	dropped := "Connection Keep-Alive Proxy-Connection Proxy-Authenticate Proxy-Authorization Te Trailer " +
		"Transfer-Encoding Upgrade Forwarded X-Forwarded-For X-Forwarded-Host X-Forwarded-Proto X-Request-Id " +
		"X-Forwarded-Ssl X-Forwarded-Scheme X-Forwarded-Protocol X-Forwarded-Port X-Url-Scheme Front-End-Https X-Real-Ip"
	spoofable := "X-Forwarded-Ssl X-Forwarded-Scheme X-Forwarded-Protocol X-Forwarded-Port X-Url-Scheme Front-End-Https X-Real-Ip"
	respHop := "Connection Keep-Alive Proxy-Connection Proxy-Authenticate Te Transfer-Encoding Upgrade"
	for f := Other; f <= FieldXForwardedPrefix; f++ {
		name := ""
		for _, n := range strings.Fields(dropped + " Host Content-Length Expect Pragma User-Agent X-Forwarded-Prefix") {
			if Lookup(n) == f {
				name = n
			}
		}
		if f == Other {
			continue
		}
		if name == "" {
			t.Fatalf("field %d has no name", f)
		}
		in := func(set string) bool { return strings.Contains(" "+set+" ", " "+name+" ") }
		if f.Dropped() != in(dropped) || f.Spoofable() != in(spoofable) || f.ResponseHop() != in(respHop) {
			t.Errorf("%s: dropped %v spoofable %v response hop %v", name, f.Dropped(), f.Spoofable(), f.ResponseHop())
		}
	}
}

func TestTokenListed(t *testing.T) {
	if !TokenListed([]string{"keep-alive, X-Foo"}, "x-foo") || TokenListed([]string{"X-Foobar"}, "X-Foo") {
		t.Error("TokenListed")
	}
	if !TokenListed([]string{"a", " close ,b"}, "Close") || TokenListed(nil, "close") {
		t.Error("TokenListed over several values")
	}
}

func BenchmarkLookup(b *testing.B) {
	names := []string{"Accept", "User-Agent", "X-Forwarded-For", "accept-encoding", "Cookie", "Connection"}
	for b.Loop() {
		for _, n := range names {
			_ = Lookup(n)
		}
	}
}

// FuzzLookup holds Lookup (both instantiations) to a plain reference:
// strings.EqualFold against every name it knows.
func FuzzLookup(f *testing.F) {
	names := []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Request-Id", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Protocol",
		"X-Forwarded-Port", "X-Url-Scheme", "Front-End-Https", "X-Real-Ip", "Host", "Content-Length", "Expect",
		"Pragma", "User-Agent", "X-Forwarded-Prefix"}
	for _, n := range names {
		f.Add(n)
	}
	f.Add("x-rEQUEST-id")
	f.Add("X-Forwarded-F@r")
	f.Fuzz(func(t *testing.T, name string) {
		want := Other
		for _, n := range names {
			if len(n) == len(name) && strings.EqualFold(n, name) {
				want = Lookup(n)
			}
		}
		if got := Lookup(name); got != want {
			t.Fatalf("Lookup(%q) = %d, want %d", name, got, want)
		}
		if got := Lookup([]byte(name)); got != want {
			t.Fatalf("Lookup([]byte(%q)) = %d, want %d", name, got, want)
		}
	})
}
