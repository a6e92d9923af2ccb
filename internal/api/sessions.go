package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

// SessionCookie is the name of the console session's cookie.
const SessionCookie = "berth_session"

// CSRFHeader is the header a change sent with the session cookie must
// carry: the CSRF value the sign-in answered.
const CSRFHeader = "X-Berth-CSRF"

// The default session lifetimes: a session ends after DefaultSessionIdle
// without a request, and DefaultSessionMax after its sign-in at the
// latest.
const (
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 7 * 24 * time.Hour
)

// sessionConf is the server's session and password settings.
type sessionConf struct {
	idle, max time.Duration
	argon     Argon2Params
	limits    *signInLimits
	// dummy is a hash of no one's password, verified for an unknown
	// user so that its sign-in costs what a known user's does.
	dummyOnce sync.Once
	dummy     string
}

func (c *sessionConf) dummyHash() string {
	c.dummyOnce.Do(func() {
		c.dummy, _ = hashPassword("no user has this password", c.argon)
	})
	return c.dummy
}

// newSecret returns n random bytes, hex-encoded.
func newSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// csrfOf is the CSRF value bound to the session whose secret is secret:
// derived from it one way, so it gives the secret away to no one, and
// nothing more is stored. A page of another site cannot read it (nor
// the HttpOnly cookie), so it cannot send it.
func csrfOf(secret string) string {
	sum := sha256.Sum256([]byte("berth-csrf\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// safeMethod reports whether m changes nothing (no CSRF proof needed).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sessionSecret is the session cookie of r.
func sessionSecret(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// sentCredentials reports whether r carries a bearer token or a session
// cookie.
func sentCredentials(r *http.Request) bool {
	_, tok := bearerToken(r)
	_, ses := sessionSecret(r)
	return tok || ses
}

// authenticateSession says which user's session the cookie secret is:
// it must exist, not be idle or past its end, and a change must carry
// the session's CSRF value.
func (s *Server) authenticateSession(r *http.Request, secret string) (principal, error) {
	invalid := unauthorized("invalid session: sign in again (POST /api/v1/session)")
	if s.store == nil {
		return principal{}, invalid
	}
	hash := sha256.Sum256([]byte(secret))
	ss, err := s.store.SessionByHash(hash)
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, invalid
	}
	if err != nil {
		return principal{}, fmt.Errorf("look up session: %w", err)
	}
	who := principal{name: "user:" + ss.User, user: ss.User}
	if ss.Token != "" {
		who = principal{name: ss.Token}
	}
	now := s.now()
	switch {
	case !now.Before(ss.ExpiresAt):
		return who, unauthorized(fmt.Sprintf("session expired at %s (sessions last %s at most): sign in again", ss.ExpiresAt.UTC().Format(time.RFC3339), s.sess.max))
	case !now.Before(ss.LastSeenAt.Add(s.sess.idle)):
		return who, unauthorized(fmt.Sprintf("session expired after %s without a request: sign in again", s.sess.idle))
	}
	p, err := s.sessionPrincipal(r, ss)
	if err != nil {
		return who, err
	}
	if !safeMethod(r.Method) {
		got := r.Header.Get(CSRFHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(csrfOf(secret))) != 1 {
			return who, forbidden("a change sent with the session cookie must carry the %s header with the csrf value of the sign-in", CSRFHeader)
		}
	}
	if s.used.due("session\x00"+ss.ID, now) {
		if err := s.store.TouchSession(hash, now); err != nil {
			s.log.Warn("record session use", "user", ss.User, "error", err)
		}
	}
	p.session, p.csrf = ss.ID, csrfOf(secret)
	return p, nil
}

// sessionPrincipal is who a live session acts as: its user, with the
// user's role and scope as they are now, or the token it signed in
// with, checked again (a revoked, expired or replaced token ends it).
func (s *Server) sessionPrincipal(r *http.Request, ss store.Session) (principal, error) {
	if ss.Token != "" {
		sum, err := hex.DecodeString(ss.TokenSum)
		if err != nil || len(sum) != sha256.Size {
			return principal{name: ss.Token}, unauthorized("invalid session: sign in again (POST /api/v1/session)")
		}
		p, err := s.tokenPrincipal(r, [sha256.Size]byte(sum))
		if err != nil {
			if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusUnauthorized {
				return principal{name: ss.Token}, unauthorized(fmt.Sprintf("the token this session signed in with no longer works (%v): sign in again", e.Err))
			}
			return principal{name: ss.Token}, err
		}
		return p, nil
	}
	u, err := s.store.GetUser(ss.User)
	if err != nil {
		return principal{name: "user:" + ss.User, user: ss.User}, unauthorized("invalid session: sign in again (POST /api/v1/session)") // removed in between
	}
	return principal{name: "user:" + ss.User, user: ss.User, role: Role(u.Role), apps: u.Apps, envs: u.Envs}, nil
}

// signIn checks a user's name and password and starts a session: its
// secret goes in an HttpOnly cookie, its CSRF value in the answer.
// Failures are slowed down (ratelimit.go) and recorded.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	// Only JSON: a form of another site cannot send it without the
	// browser asking this server first (CORS), which it never allows,
	// so no page can sign a visitor in as someone else.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Err: errors.New("sign in with Content-Type: application/json")}
	}
	var req dto.SignInRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		return badRequest(errors.New("read sign-in: send JSON {\"name\": …, \"password\": …}"))
	}
	if req.Token != "" {
		return s.signInToken(w, r, req.Token)
	}
	if store.CheckUserName(req.Name) != nil {
		req.Name = "(invalid name)" // no user has it; nor is it kept as given
	}
	note := noteOf(r)
	note.signIn(req.Name)
	addr := remoteHost(r)
	if d := s.sess.limits.attempt(req.Name, addr); d > 0 {
		secs := int(math.Ceil(d.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &Error{Status: http.StatusTooManyRequests, Err: fmt.Errorf("too many failed sign-ins: try again in %d s", secs)}
	}
	u, err := s.store.GetUser(req.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	hash := u.PasswordHash
	if err != nil {
		hash = s.sess.dummyHash() // the same cost as a known user's
	}
	ok, verr := verifyPassword(req.Password, hash)
	if verr != nil {
		s.log.Error("verify password", "user", req.Name, "error", verr)
	}
	if err != nil || !ok || len(req.Password) > maxPasswordLength {
		return unauthorized("wrong user name or password") // attempt counted it
	}
	s.sess.limits.succeeded(req.Name, addr)
	return s.startSession(w, r, store.Session{User: u.Name}, u.Role)
}

// tokenSignIn is the name a token sign-in from addr counts its failures
// under: one per address, so that failures from elsewhere never slow
// down the admin's own token sign-in (a token is 256 random bits: there
// is no one to protect by counting them together).
func tokenSignIn(addr string) string { return "(token from " + addr + ")" }

// signInToken starts a session for the holder of a token (the admin
// token, or one of berth tokens create): it acts as the token, with its
// role and scope, for as long as the token works.
func (s *Server) signInToken(w http.ResponseWriter, r *http.Request, tok string) error {
	note := noteOf(r)
	addr := remoteHost(r)
	if d := s.sess.limits.attempt(tokenSignIn(addr), addr); d > 0 {
		note.signInToken("")
		secs := int(math.Ceil(d.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &Error{Status: http.StatusTooManyRequests, Err: fmt.Errorf("too many failed sign-ins: try again in %d s", secs)}
	}
	sum := sha256.Sum256([]byte(tok))
	p, err := s.tokenPrincipal(r, sum)
	note.signInToken(p.name)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusUnauthorized {
			return unauthorized(strings.Replace(e.Err.Error(), "invalid bearer token", "wrong token", 1))
		}
		return err
	}
	s.sess.limits.succeeded(tokenSignIn(addr), addr)
	return s.startSession(w, r, store.Session{Token: p.name, TokenSum: hex.EncodeToString(sum[:])}, string(p.role))
}

// startSession stores a new session ss (its user or token set) and
// answers its secret in an HttpOnly cookie, its CSRF value in the body.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, ss store.Session, role string) error {
	now := s.now().UTC()
	_, _ = s.store.PruneSessions(func(ss store.Session) bool {
		return !now.Before(ss.ExpiresAt) || !now.Before(ss.LastSeenAt.Add(s.sess.idle))
	})
	secret, err := newSecret(32)
	if err != nil {
		return err
	}
	id, err := newSecret(8)
	if err != nil {
		return err
	}
	addr := remoteHost(r)
	ss.ID, ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt, ss.From = id, now, now, now.Add(s.sess.max), addr
	if err := s.store.CreateSession(ss, sha256.Sum256([]byte(secret))); err != nil {
		return err
	}
	if ss.User != "" {
		if err := s.store.TouchUserSignIn(ss.User, now, addr); err != nil {
			s.log.Warn("record sign-in", "user", ss.User, "error", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, Expires: ss.ExpiresAt})
	writeJSON(w, http.StatusCreated, dto.SignedIn{Session: sessionDTO(ss), Role: role, CSRF: csrfOf(secret)})
	return nil
}

// whoAmI answers who the request's credential is: the console asks it
// for the signed-in person, their role and the session's CSRF value.
func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request) error {
	p, _ := principalOf(r)
	writeJSON(w, http.StatusOK, dto.WhoAmI{Name: p.name, User: p.user, Role: string(p.role), Apps: p.apps, Envs: p.envs,
		Session: p.session, CSRF: p.csrf})
	return nil
}

// signOut ends the session the request came with.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	p, _ := principalOf(r)
	if p.session == "" {
		return badRequest(errors.New("this request came with a token, not a session cookie: there is no session to end"))
	}
	ss, err := s.store.DeleteSession(p.session)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
	writeJSON(w, http.StatusOK, sessionDTO(ss))
	return nil
}

// mayManageAll reports whether p sees and revokes every session: an
// admin's.
func mayManageAll(p principal) bool { return p.role == RoleAdmin && !p.scoped() }

// listSessions answers every session to an admin, a user's own to a
// user, none to other tokens.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	p, _ := principalOf(r)
	out := []store.Session{}
	var err error
	switch {
	case mayManageAll(p):
		out, err = s.store.ListSessions("")
	case p.user != "":
		out, err = s.store.ListSessions(p.user)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(out, sessionDTO))
	return nil
}

// revokeSession ends a session: any, for an admin; one's own, for a
// user. It is refused from the next request on.
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) error {
	p, _ := principalOf(r)
	id := r.PathValue("id")
	notFound := fmt.Errorf("session %q: %w (GET /api/v1/sessions lists the ids)", id, store.ErrNotFound)
	if !mayManageAll(p) {
		own, err := s.store.ListSessions(p.user)
		if err != nil {
			return err
		}
		if p.user == "" || !containsSession(own, id) {
			return notFound // another's session is not there for a user
		}
	}
	ss, err := s.store.DeleteSession(id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionDTO(ss))
	return nil
}

func containsSession(ss []store.Session, id string) bool {
	for _, x := range ss {
		if x.ID == id {
			return true
		}
	}
	return false
}
