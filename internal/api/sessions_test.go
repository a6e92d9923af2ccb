package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

// userEnv is a server with cheap password hashes, short sessions and a
// settable clock, called in-process so that each request can come from
// its own address.
type userEnv struct {
	s   *Server
	h   http.Handler
	st  *store.Store
	clk *clock
	dir string
}

func newUserEnv(t *testing.T, logs io.Writer) *userEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := newClock()
	if logs == nil {
		logs = io.Discard
	}
	s := New(Options{Store: st, Token: testToken, Now: clk.Now, Argon2: &cheapArgon,
		SessionIdle: time.Hour, SessionMax: 8 * time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	return &userEnv{s: s, h: s.Handler(), st: st, clk: clk, dir: dir}
}

// req is one request: from addr, with a bearer token or a session
// cookie and CSRF header.
type req struct {
	method, path string
	body         any
	addr         string
	token        string
	cookie, csrf string
}

func (e *userEnv) do(t *testing.T, q req) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if q.body != nil {
		b, _ := json.Marshal(q.body)
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(q.method, q.path, rd)
	if q.body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	r.RemoteAddr = "127.0.0.1:4000"
	if q.addr != "" {
		r.RemoteAddr = q.addr + ":4000"
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	if q.cookie != "" {
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: q.cookie})
	}
	if q.csrf != "" {
		r.Header.Set(CSRFHeader, q.csrf)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

const annPassword = "ann's long passphrase"

// addUser adds a user through the API with the admin token.
func (e *userEnv) addUser(t *testing.T, u dto.UserRequest) {
	t.Helper()
	if w := e.do(t, req{method: "POST", path: "/api/v1/users", body: u, token: testToken}); w.Code != http.StatusCreated {
		t.Fatalf("add user %s: %d %s", u.Name, w.Code, w.Body)
	}
}

// signIn signs name in from addr and returns the cookie's secret and the
// CSRF value.
func (e *userEnv) signIn(t *testing.T, name, password, addr string) (cookie, csrf string) {
	t.Helper()
	w := e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Name: name, Password: password}, addr: addr})
	if w.Code != http.StatusCreated {
		t.Fatalf("sign in %s: %d %s", name, w.Code, w.Body)
	}
	var si dto.SignedIn
	if err := json.Unmarshal(w.Body.Bytes(), &si); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			return c.Value, si.CSRF
		}
	}
	t.Fatalf("no session cookie: %v", w.Result().Header)
	return "", ""
}

// Sign-in sets an HttpOnly, SameSite=Strict cookie for / (not Secure
// over plain HTTP); the cookie reads; a change with it is refused
// without the CSRF value (or with another session's) and allowed with
// it; a bearer token needs no CSRF value.
func TestSessions_CookieReadsAndChangesNeedCSRF(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	e.addUser(t, dto.UserRequest{Name: "ann", Role: "admin", Password: annPassword})
	w := e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Name: "ann", Password: annPassword}})
	c := w.Result().Cookies()
	if w.Code != http.StatusCreated || len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/" || c[0].Secure {
		t.Fatalf("sign-in: %d %v", w.Code, w.Result().Header["Set-Cookie"])
	}
	cookie, csrf := e.signIn(t, "ann", annPassword, "")
	if w := e.do(t, req{method: "GET", path: "/api/v1/users", cookie: cookie}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ann"`) {
		t.Errorf("a read with the cookie: %d %s", w.Code, w.Body)
	}
	bob := dto.UserRequest{Name: "bob", Role: "viewer", Password: "bob's long passphrase"}
	if w := e.do(t, req{method: "POST", path: "/api/v1/users", body: bob, cookie: cookie}); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), CSRFHeader) {
		t.Errorf("a change without CSRF: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, req{method: "POST", path: "/api/v1/users", body: bob, cookie: cookie, csrf: csrfOf("another")}); w.Code != http.StatusForbidden {
		t.Errorf("a change with another session's CSRF: %d %s", w.Code, w.Body)
	}
	if _, err := e.st.GetUser("bob"); err == nil {
		t.Fatal("a refused change was made")
	}
	if w := e.do(t, req{method: "POST", path: "/api/v1/users", body: bob, cookie: cookie, csrf: csrf}); w.Code != http.StatusCreated {
		t.Errorf("a change with CSRF: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, req{method: "DELETE", path: "/api/v1/users/bob", token: testToken}); w.Code != http.StatusOK {
		t.Errorf("a token's change: %d %s", w.Code, w.Body)
	}
}

// Over TLS the cookie is Secure.
func TestSessions_SecureCookieOverTLS(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	e.addUser(t, dto.UserRequest{Name: "ann", Role: "viewer", Password: annPassword})
	srv := httptest.NewTLSServer(e.h)
	t.Cleanup(srv.Close)
	b, _ := json.Marshal(dto.SignInRequest{Name: "ann", Password: annPassword})
	resp, err := srv.Client().Post(srv.URL+"/api/v1/session", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Cookies(); resp.StatusCode != http.StatusCreated || len(c) != 1 || !c[0].Secure {
		t.Errorf("%d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
}

// Signing out, revoking, removing the user and a new password each end
// sessions from the next request on; a user lists and revokes only its
// own sessions, an admin everyone's.
func TestSessions_EndAtOnce(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	e.addUser(t, dto.UserRequest{Name: "ann", Role: "viewer", Apps: []string{"shop"}, Password: annPassword})
	e.addUser(t, dto.UserRequest{Name: "bob", Role: "deployer", Password: "bob's long passphrase"})
	reads := func(cookie string) int {
		return e.do(t, req{method: "GET", path: "/api/v1/apps", cookie: cookie}).Code
	}
	a1, csrf1 := e.signIn(t, "ann", annPassword, "")
	if w := e.do(t, req{method: "DELETE", path: "/api/v1/session", cookie: a1, csrf: csrf1}); w.Code != http.StatusOK {
		t.Fatalf("sign out: %d %s", w.Code, w.Body)
	}
	if code := reads(a1); code != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d", code)
	}
	a2, csrf2 := e.signIn(t, "ann", annPassword, "")
	a3, _ := e.signIn(t, "ann", annPassword, "")
	b1, _ := e.signIn(t, "bob", "bob's long passphrase", "")
	var mine []dto.Session
	w := e.do(t, req{method: "GET", path: "/api/v1/sessions", cookie: a2})
	if json.Unmarshal(w.Body.Bytes(), &mine) != nil || len(mine) != 2 || mine[0].User != "ann" || mine[1].User != "ann" {
		t.Fatalf("ann's sessions: %s", w.Body)
	}
	var all []dto.Session
	_ = json.Unmarshal(e.do(t, req{method: "GET", path: "/api/v1/sessions", token: testToken}).Body.Bytes(), &all)
	if len(all) != 3 {
		t.Fatalf("all sessions: %+v", all)
	}
	var bobs string
	for _, s := range all {
		if s.User == "bob" {
			bobs = s.ID
		}
	}
	if w := e.do(t, req{method: "DELETE", path: "/api/v1/sessions/" + bobs, cookie: a2, csrf: csrf2}); w.Code != http.StatusNotFound {
		t.Errorf("ann revokes bob's session: %d %s", w.Code, w.Body)
	}
	if code := reads(b1); code != http.StatusOK {
		t.Errorf("bob's session after ann's attempt: %d", code)
	}
	if w := e.do(t, req{method: "DELETE", path: "/api/v1/sessions/" + bobs, token: testToken}); w.Code != http.StatusOK {
		t.Errorf("the admin revokes bob's session: %d %s", w.Code, w.Body)
	}
	if code := reads(b1); code != http.StatusUnauthorized {
		t.Errorf("bob's revoked session: %d", code)
	}
	// ann changes her own password... through an admin: the admin's
	// passwd ends all of ann's sessions.
	if w := e.do(t, req{method: "PUT", path: "/api/v1/users/ann/password", body: dto.PasswordRequest{Password: "ann's new passphrase"}, token: testToken}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"sessions_ended": 2`) {
		t.Errorf("passwd: %d %s", w.Code, w.Body)
	}
	if reads(a2) != http.StatusUnauthorized || reads(a3) != http.StatusUnauthorized {
		t.Error("ann's sessions outlived her new password")
	}
	if w := e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Name: "ann", Password: annPassword}}); w.Code != http.StatusUnauthorized {
		t.Errorf("the old password: %d", w.Code)
	}
	a4, _ := e.signIn(t, "ann", "ann's new passphrase", "")
	if w := e.do(t, req{method: "DELETE", path: "/api/v1/users/ann", token: testToken}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"sessions_ended": 1`) {
		t.Errorf("remove: %d %s", w.Code, w.Body)
	}
	if code := reads(a4); code != http.StatusUnauthorized {
		t.Errorf("a removed user's session: %d", code)
	}
}

// A session ends after the idle time without a request, and at its
// absolute end even when in use.
func TestSessions_IdleAndAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil) // idle 1h, at most 8h
	e.addUser(t, dto.UserRequest{Name: "ann", Role: "viewer", Password: annPassword})
	reads := func(cookie string) *httptest.ResponseRecorder {
		return e.do(t, req{method: "GET", path: "/api/v1/apps", cookie: cookie})
	}
	idle, _ := e.signIn(t, "ann", annPassword, "")
	busy, _ := e.signIn(t, "ann", annPassword, "")
	e.clk.Advance(59 * time.Minute)
	if w := reads(idle); w.Code != http.StatusOK {
		t.Fatalf("within the idle time: %d", w.Code)
	}
	e.clk.Advance(time.Hour)
	if w := reads(idle); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "without a request") {
		t.Errorf("an hour idle: %d %s", w.Code, w.Body)
	}
	// busy: a request every 50 minutes keeps it until its 8h end.
	busy2, _ := e.signIn(t, "ann", annPassword, "")
	for range 10 {
		if w := reads(busy2); w.Code != http.StatusOK {
			t.Fatalf("a busy session: %d %s", w.Code, w.Body)
		}
		e.clk.Advance(50 * time.Minute)
	}
	if w := reads(busy2); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "sessions last 8h0m0s at most") {
		t.Errorf("past its end: %d %s", w.Code, w.Body)
	}
	if w := reads(busy); w.Code != http.StatusUnauthorized {
		t.Errorf("the other idle session: %d", w.Code)
	}
}

// A burst of wrong passwords from one address is slowed (429 with
// Retry-After, even for the right password from there), while the right
// password from another address still signs in; an unknown user is
// answered as a wrong password, after verifying a dummy hash.
func TestSessions_SignInRateLimit(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	e.addUser(t, dto.UserRequest{Name: "ann", Role: "viewer", Password: annPassword})
	try := func(name, pw, addr string) *httptest.ResponseRecorder {
		return e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Name: name, Password: pw}, addr: addr})
	}
	var codes []int
	for i := range 8 {
		w := try("ann", "wrong password "+string(rune('a'+i)), "198.51.100.7")
		codes = append(codes, w.Code)
	}
	want := []int{401, 401, 401, 401, 401, 401, 429, 429}
	if jsonString(t, codes) != jsonString(t, want) {
		t.Errorf("a burst of wrong passwords: %v, want %v", codes, want)
	}
	w := try("ann", annPassword, "198.51.100.7")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Errorf("the right password from the hammering address: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	e.signIn(t, "ann", annPassword, "203.0.113.5")
	e.clk.Advance(time.Second)
	try("ann", "still wrong", "198.51.100.7")
	if w := try("ann", annPassword, "198.51.100.7"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Errorf("the delay doubles: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	w1, w2 := try("nobody", "some password", "192.0.2.1"), try("ann", "some password", "192.0.2.1")
	if w1.Code != http.StatusUnauthorized || w1.Body.String() != w2.Body.String() {
		t.Errorf("an unknown user: %d %s; a wrong password: %s", w1.Code, w1.Body, w2.Body)
	}
	if w := e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Name: strings.Repeat("x", 5000), Password: "p"}}); w.Code != http.StatusUnauthorized {
		t.Errorf("a name no user can have: %d", w.Code)
	}
	r := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"name":"ann","password":"ann's long passphrase"}`))
	r.Header.Set("Content-Type", "text/plain")
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a sign-in a cross-site form could send: %d", w.Code)
	}
	if e.s.sess.dummy == "" {
		t.Error("no dummy hash was verified for the unknown user")
	}
}

// An admin user who sets its own password stays signed in where it did
// so; its other sessions end.
func TestSessions_OwnPasswdKeepsThisSession(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	e.addUser(t, dto.UserRequest{Name: "ann", Role: "admin", Password: annPassword})
	here, csrf := e.signIn(t, "ann", annPassword, "")
	there, _ := e.signIn(t, "ann", annPassword, "192.0.2.9")
	w := e.do(t, req{method: "PUT", path: "/api/v1/users/ann/password", body: dto.PasswordRequest{Password: "ann's next passphrase"}, cookie: here, csrf: csrf})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"sessions_ended": 1`) {
		t.Fatalf("passwd: %d %s", w.Code, w.Body)
	}
	if code := e.do(t, req{method: "GET", path: "/api/v1/users", cookie: here}).Code; code != http.StatusOK {
		t.Errorf("this session: %d", code)
	}
	if code := e.do(t, req{method: "GET", path: "/api/v1/users", cookie: there}).Code; code != http.StatusUnauthorized {
		t.Errorf("the other session: %d", code)
	}
}
