package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// tokenEnv is a server over a fake engine, a temp store and a settable
// clock.
type tokenEnv struct {
	srv *httptest.Server
	st  *store.Store
	clk *clock
}

func newTokenEnv(t *testing.T) *tokenEnv {
	t.Helper()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	f.AddImage("blog:1", "sha256:2222")
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := newClock()
	dep := deploy.New(deploy.Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc"})
	srv := httptest.NewServer(New(Options{Deployer: dep, Store: st, Token: testToken, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	return &tokenEnv{srv: srv, st: st, clk: clk}
}

// call sends method path with body (JSON unless a string) and token,
// and returns the status and body.
func (e *tokenEnv) call(t *testing.T, token, method, path string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// create makes a token through the API with the admin token.
func (e *tokenEnv) create(t *testing.T, req dto.TokenRequest) dto.NewToken {
	t.Helper()
	code, body := e.call(t, testToken, http.MethodPost, "/api/v1/tokens", req)
	var nt dto.NewToken
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &nt) != nil || !strings.HasPrefix(nt.Token, tokenPrefix) {
		t.Fatalf("create token %+v: %d %s", req, code, body)
	}
	return nt
}

func blogApp() *spec.App {
	a := workerApp()
	a.Name, a.Services[0].Image = "blog", "blog:1"
	return a
}

// A ci token scoped to shop deploys shop; it is refused (403, saying its
// role and scope and what is needed) a deploy of blog, a deploy whose
// body names blog under shop's path, a secret change of shop and
// creating a token.
func TestTokens_CIScopedToAnAppDeploysOnlyIt(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	ci := e.create(t, dto.TokenRequest{Name: "ci-shop", Role: "ci", Apps: []string{"shop"}}).Token
	c := apiclient.New(e.srv.URL, ci)
	ctx := context.Background()
	if d, err := c.Deploy(ctx, workerApp(), "production", dto.DeployOptions{}, nil); err != nil || d.Status != dto.DeploymentSucceeded {
		t.Fatalf("ci deploys shop: %+v, %v", d, err)
	}
	_, err := c.Deploy(ctx, blogApp(), "production", dto.DeployOptions{}, nil)
	if !apiclient.IsStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), `token "ci-shop" (role ci, apps shop) may not deploy app blog`) {
		t.Errorf("ci deploys blog: %v", err)
	}
	if code, body := e.call(t, ci, http.MethodPost, "/api/v1/apps/shop/envs/production/deploy", blogApp()); code != http.StatusBadRequest || !strings.Contains(body, `names \"blog\" but the URL names \"shop\"`) {
		t.Errorf("blog's definition under shop's path: %d %s", code, body)
	}
	if code, body := e.call(t, ci, http.MethodPut, "/api/v1/apps/shop/envs/production/secrets/KEY", "v"); code != http.StatusForbidden || !strings.Contains(body, "needs a token of role admin or deployer") {
		t.Errorf("ci sets a secret: %d %s", code, body)
	}
	if code, body := e.call(t, ci, http.MethodPost, "/api/v1/tokens", dto.TokenRequest{Name: "mine", Role: "admin"}); code != http.StatusForbidden || !strings.Contains(body, "role admin") {
		t.Errorf("ci creates a token: %d %s", code, body)
	}
	if _, err := e.st.GetApp("blog"); err == nil {
		t.Error("the refused deploy created app blog")
	}
}

// Listings show a scoped token only its apps and environments.
func TestTokens_ListingsShowOnlyTheScope(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	ctx := context.Background()
	admin := apiclient.New(e.srv.URL, testToken)
	for _, app := range []*spec.App{workerApp(), blogApp()} {
		for _, env := range []string{"production", "staging"} {
			if _, err := admin.Deploy(ctx, app, env, dto.DeployOptions{}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	v := apiclient.New(e.srv.URL, e.create(t, dto.TokenRequest{Name: "view-shop", Role: "viewer", Apps: []string{"shop"}, Envs: []string{"staging"}}).Token)
	apps, err := v.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Name != "shop" || len(apps[0].Envs) != 1 || apps[0].Envs[0] != "staging" {
		t.Errorf("apps seen by a viewer of shop/staging: %+v, %v", apps, err)
	}
	sts, err := v.StatusAll(ctx)
	if err != nil || len(sts) != 1 || sts[0].App != "shop" || sts[0].Env != "staging" {
		t.Errorf("status seen by a viewer of shop/staging: %+v, %v", sts, err)
	}
	if all, err := admin.StatusAll(ctx); err != nil || len(all) != 4 {
		t.Errorf("status seen by the admin: %d, %v", len(all), err)
	}
}

// A revoked token is refused from its next request on, saying when it
// was revoked; an expiring one works until its time, then is refused
// saying it expired.
func TestTokens_RevokedAndExpiredAreRefusedAtOnce(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	tok := e.create(t, dto.TokenRequest{Name: "gone", Role: "viewer"}).Token
	if code, body := e.call(t, tok, http.MethodGet, "/api/v1/apps", nil); code != http.StatusOK {
		t.Fatalf("before revocation: %d %s", code, body)
	}
	e.clk.Advance(time.Second)
	if code, body := e.call(t, testToken, http.MethodDelete, "/api/v1/tokens/gone", nil); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body := e.call(t, tok, http.MethodGet, "/api/v1/apps", nil); code != http.StatusUnauthorized || !strings.Contains(body, `token \"gone\" was revoked at 2026-03-01T12:00:01Z`) {
		t.Errorf("after revocation: %d %s", code, body)
	}

	exp := e.create(t, dto.TokenRequest{Name: "short", Role: "viewer", ExpiresIn: "1h"}).Token
	e.clk.Advance(time.Hour - time.Second)
	if code, body := e.call(t, exp, http.MethodGet, "/api/v1/apps", nil); code != http.StatusOK {
		t.Fatalf("a second before expiry: %d %s", code, body)
	}
	e.clk.Advance(time.Second)
	if code, body := e.call(t, exp, http.MethodGet, "/api/v1/apps", nil); code != http.StatusUnauthorized || !strings.Contains(body, `token \"short\" expired at 2026-03-01T13:00:01Z`) {
		t.Errorf("at expiry: %d %s", code, body)
	}
}

// The token is shown once; neither the store's file nor the listing
// holds it, only the hash that finds it.
func TestTokens_CannotBeReadBack(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	tok := e.create(t, dto.TokenRequest{Name: "secret", Role: "deployer"}).Token
	b, err := os.ReadFile(e.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	hexPart := strings.TrimPrefix(tok, tokenPrefix)
	if bytes.Contains(b, []byte(hexPart)) || bytes.Contains(b, []byte(strings.ToUpper(hexPart))) {
		t.Error("the store's file holds the token")
	}
	if _, body := e.call(t, testToken, http.MethodGet, "/api/v1/tokens", nil); strings.Contains(body, hexPart) {
		t.Errorf("the listing holds the token: %s", body)
	}
}

// A token's last use (time and address) is recorded, at most once a
// minute: a busy token does not write to the store per request.
func TestTokens_LastUseIsRecordedAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	tok := e.create(t, dto.TokenRequest{Name: "busy", Role: "viewer"}).Token
	lastUsed := func() store.Token {
		t.Helper()
		ts, err := e.st.ListTokens()
		if err != nil || len(ts) != 1 {
			t.Fatalf("tokens: %+v, %v", ts, err)
		}
		return ts[0]
	}
	first := e.clk.Now()
	e.call(t, tok, http.MethodGet, "/api/v1/apps", nil)
	if got := lastUsed(); !got.LastUsedAt.Equal(first) || got.LastUsedFrom != "127.0.0.1" {
		t.Fatalf("after the first use: %+v", got)
	}
	e.clk.Advance(59 * time.Second)
	e.call(t, tok, http.MethodGet, "/api/v1/apps", nil)
	if got := lastUsed(); !got.LastUsedAt.Equal(first) {
		t.Errorf("a use 59s later was written: %s", got.LastUsedAt)
	}
	e.clk.Advance(time.Second)
	e.call(t, tok, http.MethodGet, "/api/v1/apps", nil)
	if got := lastUsed(); !got.LastUsedAt.Equal(first.Add(time.Minute)) {
		t.Errorf("a use a minute later: %s, want %s", got.LastUsedAt, first.Add(time.Minute))
	}
}

// Creating a token checks its name (and that it is free), its role, its
// scope and its expiry.
func TestTokens_CreateChecksTheRequest(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	e.create(t, dto.TokenRequest{Name: "taken", Role: "ci"})
	for _, tc := range []struct {
		req  dto.TokenRequest
		code int
		says string
	}{
		{dto.TokenRequest{Name: "taken", Role: "ci"}, http.StatusConflict, "already exists"},
		{dto.TokenRequest{Name: "Bad_Name", Role: "ci"}, http.StatusBadRequest, "lowercase letters, digits and '-'"},
		{dto.TokenRequest{Name: "x", Role: "root"}, http.StatusBadRequest, "give one of admin, deployer, viewer or ci"},
		{dto.TokenRequest{Name: "x", Role: "admin", Apps: []string{"shop"}}, http.StatusBadRequest, "an admin token is not scoped"},
		{dto.TokenRequest{Name: "x", Role: "ci", ExpiresIn: "-1h"}, http.StatusBadRequest, "positive duration"},
	} {
		if code, body := e.call(t, testToken, http.MethodPost, "/api/v1/tokens", tc.req); code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%+v: %d %s, want %d saying %q", tc.req, code, body, tc.code, tc.says)
		}
	}
}

// The typed client makes, lists and revokes tokens against the server.
func TestClient_ManagesTokens(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	ctx := context.Background()
	c := apiclient.New(e.srv.URL, testToken)
	nt, err := c.CreateToken(ctx, dto.TokenRequest{Name: "deploy-shop", Role: "deployer", Apps: []string{"shop"}, ExpiresIn: "24h"})
	if err != nil || nt.Info.Name != "deploy-shop" || !nt.Info.ExpiresAt.Equal(e.clk.Now().Add(24*time.Hour)) {
		t.Fatalf("create: %+v, %v", nt, err)
	}
	if _, err := apiclient.New(e.srv.URL, nt.Token).Apps(ctx); err != nil {
		t.Fatalf("the new token: %v", err)
	}
	ts, err := c.Tokens(ctx)
	if err != nil || len(ts) != 1 || ts[0].LastUsedFrom != "127.0.0.1" || ts[0].Apps[0] != "shop" {
		t.Fatalf("list: %+v, %v", ts, err)
	}
	if rt, err := c.RevokeToken(ctx, "deploy-shop"); err != nil || rt.RevokedAt.IsZero() {
		t.Fatalf("revoke: %+v, %v", rt, err)
	}
	if _, err := apiclient.New(e.srv.URL, nt.Token).Apps(ctx); !apiclient.IsStatus(err, http.StatusUnauthorized) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("the revoked token: %v", err)
	}
	if _, err := c.RevokeToken(ctx, "nope"); !apiclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("revoke an unknown token: %v", err)
	}
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// No token reaches the server's log or an error answer: not one that is
// used, refused for its scope, revoked, or wrong.
func TestTokens_NeverLoggedNorAnswered(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs lockedBuffer
	srv := httptest.NewServer(New(Options{Store: st, Token: testToken, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}).Handler())
	t.Cleanup(srv.Close)
	e := &tokenEnv{srv: srv, st: st, clk: newClock()}
	tok := e.create(t, dto.TokenRequest{Name: "marker", Role: "viewer", Apps: []string{"shop"}}).Token
	wrong := tokenPrefix + strings.Repeat("5ec7e7", 10)
	var answers []string
	for _, c := range []struct{ token, method, path string }{
		{tok, http.MethodGet, "/api/v1/apps"},
		{tok, http.MethodGet, "/api/v1/apps/blog/envs/production/releases"},
		{tok, http.MethodPost, "/api/v1/prune"},
		{wrong, http.MethodGet, "/api/v1/apps"},
		{testToken, http.MethodDelete, "/api/v1/tokens/marker"},
		{tok, http.MethodGet, "/api/v1/apps"},
	} {
		_, body := e.call(t, c.token, c.method, c.path, nil)
		answers = append(answers, body)
	}
	all := logs.String() + strings.Join(answers, "\n")
	for _, secret := range []string{tok, strings.TrimPrefix(tok, tokenPrefix), wrong, testToken} {
		if strings.Contains(all, secret) {
			t.Errorf("a token is in the log or an answer: %s", all)
		}
	}
	if !strings.Contains(logs.String(), "api request refused") {
		t.Errorf("the refusals were not logged: %s", logs.String())
	}
}
