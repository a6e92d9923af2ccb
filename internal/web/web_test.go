package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

const testToken = "berth_web_test_admin_token"

// newTestConsole is a console in front of a real API server (no
// engine: the pages and sign-in need none) whose store has the app
// environment shop/production and its deployment 1.
func newTestConsole(t *testing.T) http.Handler {
	t.Helper()
	h, _ := newTestConsoleStore(t)
	return h
}

func newTestConsoleStore(t *testing.T) (http.Handler, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	if d, err := st.CreateDeployment(store.Deployment{App: "shop", Env: "production", Kind: store.KindDeploy}); err != nil || d.ID != 1 {
		t.Fatalf("deployment %+v (%v)", d, err)
	}
	log := slog.New(slog.DiscardHandler)
	a := api.New(api.Options{Store: st, Token: testToken, Logger: log})
	c, err := New(Options{API: a.Handler(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return c.Handler(), st
}

func get(t *testing.T, h http.Handler, path, cookie string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: cookie})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// signIn signs in with the admin token through the API and returns the
// session cookie and CSRF value.
func signIn(t *testing.T, h http.Handler) (cookie, csrf string) {
	t.Helper()
	b, _ := json.Marshal(dto.SignInRequest{Token: testToken})
	r := httptest.NewRequest(http.MethodPost, "/api/v1/session", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	var si dto.SignedIn
	if err := json.Unmarshal(w.Body.Bytes(), &si); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == api.SessionCookie {
			return c.Value, si.CSRF
		}
	}
	t.Fatal("no session cookie")
	return "", ""
}

// Only the sign-in page, the icon and the assets answer without a
// session; every other page sends the browser to sign in, with where
// it was going, and says so when its session ended. A bearer token is
// not a console session.
func TestConsole_PagesNeedASession(t *testing.T) {
	t.Parallel()
	h := newTestConsole(t)
	for _, p := range []string{"/login", "/static/common.js", "/static/berth.css", "/favicon.ico"} {
		if w := get(t, h, p, ""); w.Code != http.StatusOK {
			t.Errorf("GET %s without a session: %d", p, w.Code)
		}
	}
	for _, p := range []string{"/", "/apps/shop/envs/production", "/deployments/1", "/deploy?app=shop&env=production", "/apps/shop/builds", "/builds/1"} {
		w := get(t, h, p, "")
		loc, _ := url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusSeeOther || loc.Path != "/login" || loc.Query().Get("next") != p || loc.Query().Get("why") != "" {
			t.Errorf("GET %s without a session: %d %s", p, w.Code, w.Header().Get("Location"))
		}
		w = get(t, h, p, "not-a-session")
		loc, _ = url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusSeeOther || loc.Query().Get("why") != "expired" {
			t.Errorf("GET %s with an ended session: %d %s", p, w.Code, w.Header().Get("Location"))
		}
		r := httptest.NewRequest(http.MethodGet, p, nil)
		r.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusSeeOther {
			t.Errorf("GET %s with a bearer token: %d", p, rec.Code)
		}
	}
	if w := get(t, h, "/login?why=expired", ""); !strings.Contains(w.Body.String(), "Your session has ended") {
		t.Errorf("the sign-in page after a session ended does not say so:\n%s", w.Body)
	}
	if w := get(t, h, "/static/", ""); w.Code != http.StatusNotFound {
		t.Errorf("the assets' directory is listed: %d", w.Code)
	}
	// An asset the browser has is not sent again.
	w := get(t, h, "/static/app.js", "")
	tag := w.Header().Get("ETag")
	r := httptest.NewRequest(http.MethodGet, "/static/app.js", nil)
	r.Header.Set("If-None-Match", tag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if tag == "" || rec.Code != http.StatusNotModified {
		t.Errorf("asking again for app.js with its ETag %q: %d", tag, rec.Code)
	}
}

// A signed-in person gets the pages, with the session's CSRF value for
// the scripts' changes and who they are; a session signed out (through
// the API) is refused from the next page on.
func TestConsole_SignedInPages(t *testing.T) {
	t.Parallel()
	h := newTestConsole(t)
	cookie, csrf := signIn(t, h)
	for _, p := range []string{"/", "/apps/shop/envs/production", "/deployments/1", "/audit", "/apps/shop/envs/production/logs", "/deploy", "/deploy?app=shop&env=production", "/apps/shop/builds"} {
		w := get(t, h, p, cookie)
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, `<meta name="berth-csrf" content="`+csrf+`">`) || !strings.Contains(body, "admin-token") {
			t.Errorf("GET %s signed in: %d\n%s", p, w.Code, body)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
	}
	if w := get(t, h, "/apps/shop/envs/production", cookie); !strings.Contains(w.Body.String(), `data-app="shop" data-env="production"`) {
		t.Errorf("the app page does not name its app:\n%s", w.Body)
	}
	if w := get(t, h, "/deploy?app=shop&env=staging", cookie); !strings.Contains(w.Body.String(), `id="deploy-app" value="shop"`) || !strings.Contains(w.Body.String(), `id="deploy-env" value="staging"`) {
		t.Errorf("the deploy page does not start from its app and environment:\n%s", w.Body)
	}
	if w := get(t, h, "/login?next=/deployments/4", cookie); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/deployments/4" {
		t.Errorf("the sign-in page when signed in: %d %s", w.Code, w.Header().Get("Location"))
	}
	if w := get(t, h, "/builds/x", cookie); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "no build x") {
		t.Errorf("a bad build number: %d %s", w.Code, w.Body)
	}
	if w := get(t, h, "/builds/7", cookie); w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "build.js") {
		t.Errorf("a build that does not exist: %d %s", w.Code, w.Body)
	}
	if w := get(t, h, "/deployments/x", cookie); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "no deployment x") {
		t.Errorf("a bad deployment number: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodDelete, "/api/v1/session", nil)
	r.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: cookie})
	r.Header.Set(api.CSRFHeader, csrf)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("sign out: %d %s", rec.Code, rec.Body)
	}
	if w := get(t, h, "/", cookie); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "why=expired") {
		t.Errorf("a page after signing out: %d %s", w.Code, w.Header().Get("Location"))
	}
}

// Every console response forbids inline script and third-party
// requests; the API's routes stay the API's.
func TestConsole_SecurityHeadersAndTheAPI(t *testing.T) {
	t.Parallel()
	h := newTestConsole(t)
	cookie, _ := signIn(t, h)
	for _, p := range []string{"/login", "/", "/static/app.js", "/favicon.ico"} {
		w := get(t, h, p, cookie)
		csp := w.Header().Get("Content-Security-Policy")
		if csp != ContentSecurityPolicy || w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: CSP %q, headers %v", p, csp, w.Header())
		}
	}
	for _, d := range []string{"script-src 'self'", "default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, d) {
			t.Errorf("the CSP lacks %s", d)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") || strings.Contains(ContentSecurityPolicy, "http") {
		t.Errorf("the CSP allows unsafe or remote sources: %s", ContentSecurityPolicy)
	}
	if w := get(t, h, "/healthz", ""); w.Code != http.StatusOK {
		t.Errorf("/healthz through the console: %d", w.Code)
	}
	if w := get(t, h, "/api/v1/apps", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("/api/v1/apps without credentials through the console: %d", w.Code)
	}
	if w := get(t, h, "/api/v1/session", cookie); w.Code != http.StatusOK || w.Header().Get("Content-Security-Policy") != "" {
		t.Errorf("an API answer got the console's headers or failed: %d %v", w.Code, w.Header())
	}
}

var (
	scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	handlerAt = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	assetRef  = regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	remoteRef = regexp.MustCompile(`(?i)(?:src|href|action)="(?:https?:)?//`)
)

// Every page as rendered has no inline script, no inline event
// handler, no reference to another site, and every asset it names is
// served (with the content type a browser runs under nosniff).
func TestConsole_PagesLoadOnlyBerthsOwnAssets(t *testing.T) {
	t.Parallel()
	h := newTestConsole(t)
	cookie, _ := signIn(t, h)
	for _, p := range []string{"/login", "/", "/apps/shop/envs/production", "/deployments/1", "/deployments/x", "/deploy?app=shop&env=production"} {
		body := get(t, h, p, cookie).Body.String()
		for _, m := range scriptTag.FindAllStringSubmatch(body, -1) {
			if strings.TrimSpace(m[2]) != "" || !strings.Contains(m[1], `src="/static/`) {
				t.Errorf("%s has an inline or foreign script: %s", p, m[0])
			}
		}
		if handlerAt.MatchString(body) || strings.Contains(body, "javascript:") || strings.Contains(body, "style=") {
			t.Errorf("%s has an inline handler or style:\n%s", p, body)
		}
		if remoteRef.MatchString(body) {
			t.Errorf("%s refers to another site:\n%s", p, body)
		}
		for _, m := range assetRef.FindAllStringSubmatch(body, -1) {
			w := get(t, h, m[1], "")
			ct := w.Header().Get("Content-Type")
			if w.Code != http.StatusOK {
				t.Errorf("%s names %s, which answers %d", p, m[1], w.Code)
			}
			if strings.HasSuffix(m[1], ".js") && !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("%s: Content-Type %q", m[1], ct)
			}
			if strings.HasSuffix(m[1], ".css") && !strings.HasPrefix(ct, "text/css") {
				t.Errorf("%s: Content-Type %q", m[1], ct)
			}
		}
	}
	// The scripts build the page with DOM calls: no HTML from strings,
	// no eval, no request to another origin.
	_ = fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		f, _ := staticFS.Open(path)
		b, _ := io.ReadAll(f)
		f.Close()
		for _, bad := range []string{"innerHTML", "outerHTML", "eval(", "new Function", "document.write", "http://", "https://"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s uses %s", path, bad)
			}
		}
		return nil
	})
}

// After signing in the page goes back where the person was going, on
// this server only.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                             "/",
		"/apps/shop/envs/production":   "/apps/shop/envs/production",
		"/deployments/4?x=1":           "/deployments/4?x=1",
		"//evil.example/":              "/",
		"/\\evil.example":              "/",
		"https://evil.example/":        "/",
		"/api/v1/apps":                 "/",
		"/x\r\nSet-Cookie: a=b":        "/",
		"javascript:alert(1)":          "/",
		"/\t/evil.example":             "/",
		"/\n/evil.example":             "/",
		"/x\\y":                        "/",
		"/%2F%2Fevil.example":          "/%2F%2Fevil.example",
		"apps/shop/envs/production":    "/",
		"/apps/shop/envs/production#x": "/apps/shop/envs/production#x",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// A page about an app or a deployment is served only when the API lets
// the signed-in person read it; otherwise the API's answer, as a page.
func TestConsole_PagesAskTheAPIFirst(t *testing.T) {
	t.Parallel()
	h, st := newTestConsoleStore(t)
	cookie, _ := signIn(t, h)
	for p, want := range map[string]string{
		"/apps/nope/envs/production": `app &#34;nope&#34;`,
		"/deployments/99":            "deployment 99",
	} {
		if w := get(t, h, p, cookie); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), want) || strings.Contains(w.Body.String(), "app.js") {
			t.Errorf("GET %s: %d\n%s", p, w.Code, w.Body)
		}
	}
	// A viewer of another app: refused as the API refuses it.
	tok := "berth_web_test_viewer"
	if err := st.CreateToken(store.Token{Name: "view-blog", Role: "viewer", Apps: []string{"blog"}}, sha256.Sum256([]byte(tok))); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(dto.SignInRequest{Token: tok})
	r := httptest.NewRequest(http.MethodPost, "/api/v1/session", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var viewer string
	for _, c := range rec.Result().Cookies() {
		viewer = c.Value
	}
	for _, p := range []string{"/apps/shop/envs/production", "/deployments/1"} {
		if w := get(t, h, p, viewer); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "view-blog") {
			t.Errorf("GET %s as a viewer of blog: %d\n%s", p, w.Code, w.Body)
		}
	}
	if w := get(t, h, "/", viewer); w.Code != http.StatusOK || strings.Contains(w.Body.String(), `href="/audit"`) {
		t.Errorf("the overview as a viewer of blog: %d, offering the audit log: %v", w.Code, strings.Contains(w.Body.String(), `href="/audit"`))
	}
	// The audit log is an admin's: a viewer gets the API's refusal, not
	// the page.
	if w := get(t, h, "/audit", viewer); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "audit.js") {
		t.Errorf("GET /audit as a viewer: %d\n%s", w.Code, w.Body)
	}
	if w := get(t, h, "/audit", cookie); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "audit.js") || !strings.Contains(w.Body.String(), `href="/audit"`) {
		t.Errorf("GET /audit as the admin: %d\n%s", w.Code, w.Body)
	}
}
