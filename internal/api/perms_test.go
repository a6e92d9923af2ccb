package api

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

// who states, apart from the server's table, who may call each route:
// the roles, and what its scope is about. "app": the route is about the
// app (and env) its path or its record names, so a token scoped
// elsewhere is refused; "list": every app, filtered by the handler;
// "server": every app at once or none, so a scoped token is refused;
// "public": no credentials. A route of the table missing here fails
// the matrix: a new route ships with a decision.
var who = map[string]struct{ roles, kind string }{
	"GET /healthz":      {"", "public"},
	"POST /hooks/{app}": {"", "public"},
	"GET /metrics":      {"admin deployer viewer", "server"},

	"GET /api/v1/apps":                                        {"admin deployer viewer", "list"},
	"GET /api/v1/status":                                      {"admin deployer viewer", "list"},
	"GET /api/v1/status/events":                               {"admin deployer viewer", "list"},
	"GET /api/v1/apps/{app}/envs/{env}/status":                {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/releases":              {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/deployments":           {"admin deployer viewer", "app"},
	"GET /api/v1/deployments/{id}":                            {"admin deployer viewer", "app"},
	"GET /api/v1/deployments/{id}/progress":                   {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/logs":                  {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/volumes":               {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/events":                {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/traffic":               {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/jobs":                  {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/jobs/{job}/runs":       {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/jobs/{job}/runs/{run}": {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/envs/{env}/backups":               {"admin deployer viewer", "app"},
	"GET /api/v1/apps/{app}/builds":                           {"admin deployer viewer", "app"},
	"GET /api/v1/builds/{id}":                                 {"admin deployer viewer", "app"},
	"GET /api/v1/builds/{id}/logs":                            {"admin deployer viewer", "app"},

	"GET /api/v1/apps/{app}/envs/{env}/config":         {"admin deployer ci", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/check":         {"admin deployer ci", "app"},
	"PUT /api/v1/apps/{app}/envs/{env}/binds":          {"admin deployer ci", "app"},
	"POST /api/v1/apps/{app}/builds":                   {"admin deployer ci", "app"},
	"GET /api/v1/apps/{app}/connection":                {"admin deployer ci", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/deploy-branch": {"admin deployer ci", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/deploy":        {"admin deployer ci", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/compose/check": {"admin deployer ci", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/compose":       {"admin deployer ci", "app"},

	"POST /api/v1/apps/{app}/envs/{env}/rollback":         {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/promote":          {"admin deployer", "app"},
	"PUT /api/v1/apps/{app}/envs/{env}/canary":            {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/scale":            {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/redeploy":         {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/config":           {"admin deployer", "app"},
	"PUT /api/v1/apps/{app}/envs/{env}/secrets/{name}":    {"admin deployer", "app"},
	"DELETE /api/v1/apps/{app}/envs/{env}/secrets/{name}": {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/run":              {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/backups":          {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/restore":          {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/jobs/{job}/runs":  {"admin deployer", "app"},
	"POST /api/v1/apps/{app}/envs/{env}/clone":            {"admin deployer", "app"},
	"PUT /api/v1/apps/{app}/envs/{env}/maintenance":       {"admin deployer", "app"},
	"POST /api/v1/builds/{id}/cancel":                     {"admin deployer", "app"},

	"DELETE /api/v1/apps/{app}/envs/{env}": {"admin", "app"},
	"DELETE /api/v1/apps/{app}":            {"admin", "app"},
	"POST /api/v1/apps/{app}/connect":      {"admin", "app"},
	"GET /api/v1/apps/{app}/notifications": {"admin", "app"},
	"PUT /api/v1/apps/{app}/notifications": {"admin", "app"},
	"POST /api/v1/prune":                   {"admin", "server"},
	"GET /api/v1/registries":               {"admin", "server"},
	"POST /api/v1/registries":              {"admin", "server"},
	"GET /api/v1/backup-destinations":      {"admin", "server"},
	"POST /api/v1/backup-destinations":     {"admin", "server"},
	"GET /api/v1/nodes":                    {"admin", "server"},
	"PUT /api/v1/nodes/{node}":             {"admin", "server"},
	"GET /api/v1/tokens":                   {"admin", "server"},
	"POST /api/v1/tokens":                  {"admin", "server"},
	"DELETE /api/v1/tokens/{name}":         {"admin", "server"},
	"GET /api/v1/audit":                    {"admin", "server"},
	"GET /api/v1/users":                    {"admin", "server"},
	"POST /api/v1/users":                   {"admin", "server"},
	"DELETE /api/v1/users/{name}":          {"admin", "server"},
	"PUT /api/v1/users/{name}/password":    {"admin", "server"},
	"GET /api/v1/server":                   {"admin", "server"},
	"POST /api/v1/server/restart":          {"admin", "server"},
	"POST /api/v1/session":                 {"", "public"},
	"GET /api/v1/session":                  {"admin deployer viewer ci", "list"},
	"DELETE /api/v1/session":               {"admin deployer viewer ci", "list"},
	"GET /api/v1/sessions":                 {"admin deployer viewer ci", "list"},
	"DELETE /api/v1/sessions/{id}":         {"admin deployer viewer ci", "list"},
	"/api/":                                {"admin deployer viewer ci", "list"},
}

// clock is a settable clock for token expiry and last use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mint stores a token directly and returns it.
func mint(t *testing.T, st *store.Store, tk store.Token) string {
	t.Helper()
	tok := "berth_test_" + tk.Name
	if err := st.CreateToken(tk, sha256.Sum256([]byte(tok))); err != nil {
		t.Fatal(err)
	}
	return tok
}

// credential is one way a request authenticates in the matrix.
type credential struct {
	name string
	auth string
	// cookie and csrf are a session's cookie and X-Berth-CSRF header.
	cookie, csrf string
	// noCSRF: a session sent without its CSRF value, refused (403) any
	// change.
	noCSRF bool
	role   string // "" when the credential is not valid
	scope  string // "", "shop", "other" or "shop/staging"
}

// The route × credential matrix: every route of the server's own table,
// with no credentials, a wrong, an expired and a revoked token, each
// role unscoped, scoped to the route's app, to another app, and to
// another environment, reaches its handler exactly when `who` says so;
// otherwise it is a 401 (not authenticated) or 403 (not allowed).
func TestPerms_RouteByCredentialMatrix(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := newClock()
	dep, err := st.CreateDeployment(store.Deployment{App: "shop", Env: "production"})
	if err != nil {
		t.Fatal(err)
	}
	bld, err := st.CreateBuild(store.Build{App: "shop", Env: "production"})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	creds := []credential{
		{name: "no credentials"},
		{name: "a wrong token", auth: "Bearer berth_nope"},
		{name: "an expired token", auth: "Bearer " + mint(t, st, store.Token{Name: "expired", Role: "admin", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)})},
		{name: "a revoked token", auth: "Bearer " + mint(t, st, store.Token{Name: "revoked", Role: "admin", CreatedAt: now, RevokedAt: now})},
		{name: "the admin token", auth: "Bearer " + testToken, role: "admin"},
		{name: "an admin token", auth: "Bearer " + mint(t, st, store.Token{Name: "admin2", Role: "admin", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}), role: "admin"},
	}
	for _, role := range []string{"deployer", "viewer", "ci"} {
		creds = append(creds,
			credential{name: role, auth: "Bearer " + mint(t, st, store.Token{Name: role, Role: role}), role: role},
			credential{name: role + " of shop", auth: "Bearer " + mint(t, st, store.Token{Name: role + "-shop", Role: role, Apps: []string{"shop"}}), role: role, scope: "shop"},
			credential{name: role + " of other", auth: "Bearer " + mint(t, st, store.Token{Name: role + "-other", Role: role, Apps: []string{"other", "blog"}}), role: role, scope: "other"},
			credential{name: role + " of shop/staging", auth: "Bearer " + mint(t, st, store.Token{Name: role + "-staging", Role: role, Apps: []string{"shop"}, Envs: []string{"staging"}}), role: role, scope: "shop/staging"},
		)
	}
	for _, u := range []struct {
		role, scope string
		apps, envs  []string
	}{{"admin", "", nil, nil}, {"deployer", "", nil, nil}, {"viewer", "", nil, nil}, {"ci", "", nil, nil},
		{"deployer", "shop", []string{"shop"}, nil}, {"viewer", "other", []string{"other"}, nil}, {"ci", "shop/staging", []string{"shop"}, []string{"staging"}}} {
		name := "u-" + u.role + "-" + strings.ReplaceAll(u.scope, "/", "-")
		secret := signInDirect(t, st, store.User{Name: strings.TrimSuffix(name, "-"), Role: u.role, Apps: u.apps, Envs: u.envs}, now, now.Add(time.Hour))
		creds = append(creds, credential{name: "a session of " + u.role + " " + u.scope, cookie: secret, csrf: csrfOf(secret), role: u.role, scope: u.scope})
	}
	stale := signInDirect(t, st, store.User{Name: "u-stale", Role: "admin"}, now.Add(-13*time.Hour), now.Add(time.Hour))
	ended := signInDirect(t, st, store.User{Name: "u-ended", Role: "admin"}, now, now)
	sneaky := signInDirect(t, st, store.User{Name: "u-sneaky", Role: "admin"}, now, now.Add(time.Hour))
	creds = append(creds,
		credential{name: "an idle session", cookie: stale, csrf: csrfOf(stale)},
		credential{name: "a session past its end", cookie: ended, csrf: csrfOf(ended)},
		credential{name: "a wrong session", cookie: "0123", csrf: csrfOf("0123")},
		credential{name: "an admin session without CSRF proof", cookie: sneaky, role: "admin", noCSRF: true},
		credential{name: "an admin session with another's CSRF value", cookie: sneaky, csrf: csrfOf(stale), role: "admin", noCSRF: true},
	)
	s := New(Options{Store: st, Token: testToken, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	const reached = http.StatusTeapot
	srv := httptest.NewServer(s.mux(func(route) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(reached); return nil }
	}))
	t.Cleanup(srv.Close)

	seen := map[string]bool{}
	for _, rt := range s.routes() {
		seen[rt.pattern] = true
		w, ok := who[rt.pattern]
		if !ok {
			t.Errorf("route %s is not in `who`: decide who may call it", rt.pattern)
			continue
		}
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = http.MethodGet, "/api/v1/nope"
		}
		id := strconv.FormatInt(dep.ID, 10)
		if strings.HasPrefix(path, "/api/v1/builds/") {
			id = strconv.FormatInt(bld.ID, 10)
		}
		path = strings.NewReplacer("{app}", "shop", "{env}", "production", "{id}", id, "{name}", "x", "{node}", "n1").Replace(path)
		for _, c := range creds {
			want := expect(rt.pattern, w.roles, w.kind, c)
			if c.noCSRF && w.kind != "public" && method != http.MethodGet && want != http.StatusUnauthorized {
				want = http.StatusForbidden
			}
			req, _ := http.NewRequest(method, srv.URL+path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.cookie != "" {
				req.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookie})
			}
			if c.csrf != "" {
				req.Header.Set(CSRFHeader, c.csrf)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.StatusCode; got != want {
				t.Errorf("%s %s with %s: %d, want %d", method, path, c.name, got, want)
			}
		}
	}
	for p := range who {
		if !seen[p] {
			t.Errorf("`who` names %s, which is not a route", p)
		}
	}
}

// signInDirect stores user u (adding it) and a session of it last seen
// at seen and ending at end, and returns the session's secret.
func signInDirect(t *testing.T, st *store.Store, u store.User, seen, end time.Time) string {
	t.Helper()
	if err := st.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	secret := "secret-" + u.Name
	ss := store.Session{ID: "id-" + u.Name, User: u.Name, CreatedAt: seen, LastSeenAt: seen, ExpiresAt: end}
	if err := st.CreateSession(ss, sha256.Sum256([]byte(secret))); err != nil {
		t.Fatal(err)
	}
	return secret
}

// expect is the status the matrix wants: the handler's (418) when c may
// call the route, else 401 or 403.
func expect(pattern, roles, kind string, c credential) int {
	switch {
	case kind == "public":
		return http.StatusTeapot
	case c.role == "":
		return http.StatusUnauthorized
	case !slices.Contains(strings.Fields(roles), c.role):
		return http.StatusForbidden
	case c.scope == "" || kind == "list":
		return http.StatusTeapot
	case kind == "server", c.scope == "other":
		return http.StatusForbidden
	case c.scope == "shop/staging" && (strings.Contains(pattern, "{env}") || strings.Contains(pattern, "{id}")):
		return http.StatusForbidden // the path's or the record's env is production
	}
	return http.StatusTeapot
}

// A viewer triggers nothing: no route that changes anything (any method
// but GET) lets the viewer role in, and neither does reading
// configuration (which is not one of a viewer's reads).
func TestPerms_ViewerChangesNothing(t *testing.T) {
	t.Parallel()
	for _, rt := range (&Server{}).routes() {
		method, _, _ := strings.Cut(rt.pattern, " ")
		// Ending one's own sessions (permSession) changes no app.
		if rt.perm.public || method == http.MethodGet || !strings.Contains(rt.pattern, " ") || rt.perm.what == permSession.what {
			continue
		}
		if slices.Contains(rt.perm.roles, RoleViewer) {
			t.Errorf("%s lets a viewer in", rt.pattern)
		}
	}
}

// A clone's source is the route's environment, its target the body's:
// a deployer scoped to staging may not clone staging into production.
func TestPerms_CloneChecksTheTargetEnvironment(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	tok := e.create(t, dto.TokenRequest{Name: "stage", Role: "deployer", Apps: []string{"shop"}, Envs: []string{"staging"}}).Token
	code, body := e.call(t, tok, http.MethodPost, "/api/v1/apps/shop/envs/staging/clone", dto.CloneRequest{To: "production"})
	if code != http.StatusForbidden || !strings.Contains(body, "may not clone into environment production") {
		t.Errorf("%d %s", code, body)
	}
}
