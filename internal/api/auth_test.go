package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

const testToken = "s3cr3t-admin-token"

// newTestServer serves the API over a temp store with token.
func newTestServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Options{Store: st, Token: token, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

// get sends GET path with the Authorization header auth (none if empty).
func get(t *testing.T, srv *httptest.Server, path, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every API route wants the bearer token: without one, or with another
// scheme, a 401 says how to send it; a wrong one (a prefix of the token
// or the token with more after it too) is a 401 saying it is invalid;
// the right one gets through. Unknown API routes do not say they are
// unknown before the token is checked.
func TestServer_AuthWantsTheBearerToken(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, testToken)
	for _, tc := range []struct {
		name, path, auth string
		want             int
		says             string
	}{
		{"no token", "/api/v1/apps", "", http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token>"},
		{"another scheme", "/api/v1/apps", "Basic " + testToken, http.StatusUnauthorized, "missing bearer token"},
		{"a wrong token", "/api/v1/apps", "Bearer nope", http.StatusUnauthorized, "invalid bearer token"},
		{"an empty token", "/api/v1/apps", "Bearer ", http.StatusUnauthorized, "missing bearer token"}, // the header's value is trimmed
		{"a prefix of the token", "/api/v1/apps", "Bearer " + testToken[:len(testToken)-1], http.StatusUnauthorized, "invalid bearer token"},
		{"the token and more", "/api/v1/apps", "Bearer " + testToken + "x", http.StatusUnauthorized, "invalid bearer token"},
		{"the right token", "/api/v1/apps", "Bearer " + testToken, http.StatusOK, "[]"},
		{"the scheme in lowercase", "/api/v1/apps", "bearer " + testToken, http.StatusOK, "[]"},
		{"the scheme in capitals", "/api/v1/apps", "BEARER " + testToken, http.StatusOK, "[]"},
		{"an unknown route without the token", "/api/v1/nope", "", http.StatusUnauthorized, "missing bearer token"},
		{"an unknown route with it", "/api/v1/nope", "Bearer " + testToken, http.StatusNotFound, "no API route GET /api/v1/nope"},
		{"the health check needs none", "/healthz", "", http.StatusOK, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, srv, tc.path, tc.auth)
			said := body
			if code >= 400 {
				var eb dto.ErrorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" {
					t.Errorf("a %d without a JSON error body: %s", code, body)
				}
				said = eb.Error
			}
			if code != tc.want || !strings.Contains(said, tc.says) {
				t.Errorf("%d %s, want %d saying %q", code, body, tc.want, tc.says)
			}
		})
	}
}

// A server started without a token lets no one in, not even a client
// that sends an empty one.
func TestServer_AuthWithoutATokenRefusesAll(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, "")
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		if code, body := get(t, srv, "/api/v1/apps", auth); code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d %s, want 401", auth, code, body)
		}
	}
}

// The token is compared in constant time: bearer.matches compares two
// SHA-256 digests (of fixed length, so not even the token's length
// leaks) with subtle.ConstantTimeCompare, and nothing else compares it.
func TestBearer_ComparesInConstantTime(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var matches *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "matches" {
			matches = fd
		}
	}
	if matches == nil {
		t.Fatal("auth.go has no bearer.matches")
	}
	calls := map[string]int{}
	ast.Inspect(matches.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok {
					calls[pkg.Name+"."+sel.Sel.Name]++
				}
			}
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				if call, ok := n.X.(*ast.CallExpr); !ok || !isSel(call.Fun, "subtle", "ConstantTimeCompare") {
					t.Errorf("bearer.matches compares with %s outside subtle.ConstantTimeCompare", n.Op)
				}
			}
		}
		return true
	})
	if calls["subtle.ConstantTimeCompare"] != 1 || calls["sha256.Sum256"] != 1 {
		t.Errorf("bearer.matches calls %v; want subtle.ConstantTimeCompare of the SHA-256 of what it got", calls)
	}
	b := newBearer(testToken)
	if !b.matches(testToken) || b.matches(testToken+" ") || b.matches("") || newBearer("").matches("") {
		t.Error("bearer.matches answers wrong")
	}
}

func isSel(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg && sel.Sel.Name == name
}
