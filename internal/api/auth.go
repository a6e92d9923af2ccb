package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

// bearer is the admin token (DATA_DIR/admin-token). It keeps the
// token's SHA-256 only: comparing two digests of fixed length in constant
// time tells an attacker neither where a guess first differs nor how long
// the token is.
type bearer struct {
	sum [sha256.Size]byte
	set bool
}

func newBearer(token string) bearer {
	return bearer{sum: sha256.Sum256([]byte(token)), set: token != ""}
}

// matches reports whether got is the token, in time independent of both.
// A server without a token matches nothing.
func (b bearer) matches(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], b.sum[:]) == 1 && b.set
}

// matchesSum reports whether sum is the token's SHA-256, in constant
// time (a token session keeps its token's sum, not the token).
func (b bearer) matchesSum(sum [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(sum[:], b.sum[:]) == 1 && b.set
}

// adminPrincipal is the admin token's principal.
var adminPrincipal = principal{name: "admin-token", role: RoleAdmin}

// touchEvery is how often a token's last use is written to the store at
// most: a CI token that sends a request a second costs a write a
// minute, not one per request.
const touchEvery = time.Minute

// lastUse throttles the store writes of tokens' last use.
type lastUse struct {
	mu      sync.Mutex
	written map[string]time.Time // token name → last write
}

// due reports whether name's use at now is to be written, and if so
// counts it as written.
func (l *lastUse) due(name string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.written[name]; ok && now.Sub(last) < touchEvery {
		return false
	}
	if l.written == nil {
		l.written = map[string]time.Time{}
	}
	l.written[name] = now
	return true
}

func unauthorized(msg string) error {
	return &Error{Status: http.StatusUnauthorized, Err: errors.New(msg)}
}

// bearerToken is the token of r's "Authorization: Bearer <token>"; the
// scheme is case-insensitive (RFC 9110, 11.1: "bearer x" is as good).
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, tok != ""
}

// authenticate says who sent r: the admin token's holder, the stored
// token whose SHA-256 the request's token has, or, without a bearer
// token, the user whose session cookie it sent (sessions.go). A revoked or expired
// token is refused saying so, from the next request on; its principal
// then names it (for the audit log), with no role.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	tok, ok := bearerToken(r)
	if !ok {
		if secret, ok := sessionSecret(r); ok {
			return s.authenticateSession(r, secret)
		}
		return principal{}, unauthorized("missing bearer token: send Authorization: Bearer <token> (the admin token is in the server's DATA_DIR/admin-token, others come from berth tokens create; the CLI reads BERTH_TOKEN), or sign in (POST /api/v1/session)")
	}
	return s.tokenPrincipal(r, sha256.Sum256([]byte(tok)))
}

// tokenPrincipal is the principal of the token whose SHA-256 is sum:
// the admin token's, or a stored token's that is neither revoked nor
// expired. A token's console session (sessions.go) is checked here too,
// on every request.
func (s *Server) tokenPrincipal(r *http.Request, sum [sha256.Size]byte) (principal, error) {
	if s.token.matchesSum(sum) {
		return adminPrincipal, nil
	}
	invalid := unauthorized("invalid bearer token: use the server's DATA_DIR/admin-token or a token from berth tokens create")
	if s.store == nil {
		return principal{}, invalid
	}
	// Tokens are looked up by their SHA-256, not compared: a lookup's
	// timing tells at most how a guess's hash relates to stored hashes,
	// which gives away nothing of a token. A plain SHA-256 (no salt, no
	// slow hash) is enough because tokens are 256 random bits: there is
	// no dictionary to try, unlike passwords.
	t, err := s.store.TokenByHash(sum)
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, invalid
	}
	if err != nil {
		return principal{}, fmt.Errorf("look up token: %w", err)
	}
	now := s.now()
	switch {
	case !t.RevokedAt.IsZero():
		return principal{name: t.Name}, unauthorized(fmt.Sprintf("token %q was revoked at %s: ask an admin for a new one (berth tokens create)", t.Name, t.RevokedAt.UTC().Format(time.RFC3339)))
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return principal{name: t.Name}, unauthorized(fmt.Sprintf("token %q expired at %s: ask an admin for a new one (berth tokens create --expires)", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	if s.used.due(t.Name, now) {
		if err := s.store.TouchToken(t.Name, now, remoteHost(r)); err != nil {
			s.log.Warn("record token use", "token", t.Name, "error", err)
		}
	}
	return principal{name: t.Name, role: Role(t.Role), apps: t.Apps, envs: t.Envs}, nil
}

// remoteHost is the address r came from, without its port.
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// fromAllowed reports whether r comes from an address of --metrics-allow.
func (s *Server) fromAllowed(r *http.Request) bool {
	a, err := netip.ParseAddr(remoteHost(r))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.metricsAllow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// guard admits r to route rt (authentication, then the role and scope
// check), then runs h; it writes whichever error comes first, and
// records the request in the audit log (audit.go).
func (s *Server) guard(rt route, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, note := s.startAudit(rt, r)
		r, p, err := s.admit(r, rt.perm)
		if err != nil {
			note.refused(rt, r, p.name, err)
			writeError(w, r, s.log, err)
			return
		}
		note.admitted(rt, r, p.name)
		err = h(w, r)
		note.end(err)
		if err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// admit checks r against pm and returns it with its principal (r
// itself, without one, for a public route or an allowed address). The
// principal returned names the token even when it is refused, if known.
func (s *Server) admit(r *http.Request, pm perm) (*http.Request, principal, error) {
	if pm.public || pm.fromAllowed && s.fromAllowed(r) {
		return r, principal{}, nil
	}
	p, err := s.authenticate(r)
	if err != nil {
		if pm.fromAllowed {
			return r, p, fmt.Errorf("%w (or scrape from an address the server allows with --metrics-allow)", err)
		}
		return r, p, err
	}
	if err := s.authorize(r, p, pm); err != nil {
		return r, p, err
	}
	return r.WithContext(withPrincipal(r.Context(), p)), p, nil
}
