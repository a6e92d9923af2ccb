package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
)

// signInToken signs in with a token and returns the session's cookie
// and CSRF value.
func (e *userEnv) signInToken(t *testing.T, tok string) (cookie, csrf string) {
	t.Helper()
	w := e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Token: tok}})
	if w.Code != http.StatusCreated {
		t.Fatalf("sign in with a token: %d %s", w.Code, w.Body)
	}
	var si dto.SignedIn
	if err := json.Unmarshal(w.Body.Bytes(), &si); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure {
				t.Errorf("token session cookie: %+v", c)
			}
			return c.Value, si.CSRF
		}
	}
	t.Fatalf("no session cookie: %v", w.Result().Header)
	return "", ""
}

func (e *userEnv) whoAmI(t *testing.T, cookie string) (int, dto.WhoAmI) {
	t.Helper()
	w := e.do(t, req{method: "GET", path: "/api/v1/session", cookie: cookie})
	var who dto.WhoAmI
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &who); err != nil {
			t.Fatal(err)
		}
	}
	return w.Code, who
}

// The admin token signs in to a session that acts as the admin token
// (reads, and changes with the CSRF value); GET /api/v1/session tells
// the console who it is and the CSRF value; signing out ends it.
func TestSessions_TokenSignIn(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	cookie, csrf := e.signInToken(t, testToken)
	code, who := e.whoAmI(t, cookie)
	if code != http.StatusOK || who.Name != "admin-token" || who.Role != "admin" || who.CSRF != csrf || who.Session == "" || who.User != "" {
		t.Fatalf("who am I: %d %+v", code, who)
	}
	bob := dto.UserRequest{Name: "bob", Role: "viewer", Password: "bob's long passphrase"}
	if w := e.do(t, req{method: "POST", path: "/api/v1/users", body: bob, cookie: cookie}); w.Code != http.StatusForbidden {
		t.Errorf("a change without CSRF: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, req{method: "POST", path: "/api/v1/users", body: bob, cookie: cookie, csrf: csrf}); w.Code != http.StatusCreated {
		t.Errorf("a change with CSRF: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, req{method: "DELETE", path: "/api/v1/session", cookie: cookie, csrf: csrf}); w.Code != http.StatusOK {
		t.Fatalf("sign out: %d %s", w.Code, w.Body)
	}
	if code, _ := e.whoAmI(t, cookie); code != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d", code)
	}
	// A bearer caller is told who it is, with no session or CSRF value.
	w := e.do(t, req{method: "GET", path: "/api/v1/session", token: testToken})
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "csrf") || !strings.Contains(w.Body.String(), `"admin-token"`) {
		t.Errorf("who am I with a bearer token: %d %s", w.Code, w.Body)
	}
}

// A stored token's session has the token's role and scope, and ends
// the moment the token is revoked; a wrong token signs nothing in and
// is never echoed.
func TestSessions_TokenSessionFollowsTheToken(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	w := e.do(t, req{method: "POST", path: "/api/v1/tokens", token: testToken,
		body: dto.TokenRequest{Name: "view-shop", Role: "viewer", Apps: []string{"shop"}}})
	if w.Code != http.StatusCreated {
		t.Fatalf("create token: %d %s", w.Code, w.Body)
	}
	var nt dto.NewToken
	if err := json.Unmarshal(w.Body.Bytes(), &nt); err != nil {
		t.Fatal(err)
	}
	cookie, csrf := e.signInToken(t, nt.Token)
	if code, who := e.whoAmI(t, cookie); code != http.StatusOK || who.Name != "view-shop" || who.Role != "viewer" || len(who.Apps) != 1 {
		t.Fatalf("who am I: %d %+v", code, who)
	}
	if w := e.do(t, req{method: "GET", path: "/api/v1/users", cookie: cookie}); w.Code != http.StatusForbidden {
		t.Errorf("a viewer's session reads users: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, req{method: "POST", path: "/api/v1/apps/shop/envs/production/rollback", cookie: cookie, csrf: csrf}); w.Code != http.StatusForbidden {
		t.Errorf("a viewer's session rolls back: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, req{method: "DELETE", path: "/api/v1/tokens/view-shop", token: testToken}); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	w = e.do(t, req{method: "GET", path: "/api/v1/session", cookie: cookie})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "revoked") || !strings.Contains(w.Body.String(), "sign in again") {
		t.Errorf("a revoked token's session: %d %s", w.Code, w.Body)
	}
	w = e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Token: "berth_wrong_secret"}})
	if w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "berth_wrong_secret") || len(w.Result().Cookies()) != 0 {
		t.Errorf("a wrong token: %d %s %v", w.Code, w.Body, w.Result().Cookies())
	}
}

// Wrong tokens are slowed down per address: an address that keeps
// guessing gets 429, while the right token from another address still
// signs in at once.
func TestSessions_TokenSignInLimitIsPerAddress(t *testing.T) {
	t.Parallel()
	e := newUserEnv(t, nil)
	var limited bool
	for range 30 {
		w := e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Token: "berth_guess"}, addr: "10.0.0.66"})
		if w.Code == http.StatusTooManyRequests {
			limited = w.Header().Get("Retry-After") != ""
			break
		}
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("a wrong token: %d %s", w.Code, w.Body)
		}
	}
	if !limited {
		t.Error("30 wrong tokens from one address were never slowed down")
	}
	w := e.do(t, req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Token: testToken}, addr: "10.0.0.7"})
	if w.Code != http.StatusCreated {
		t.Errorf("the admin token from another address: %d %s", w.Code, w.Body)
	}
}
