package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/store"
)

// A scripted session through the real server on the fake engine — a
// deploy, a config change, a secret set with a marker value, a
// rollback, a scale, a token made, a refused deploy by a viewer and a rollback
// with a wrong token — leaves exactly those entries in the audit log,
// with their actors, actions, outcomes and deployments; the marker
// value is nowhere in the store's file, the JSON lines file or the
// log's answer.
func TestAudit_ScriptedSession(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var lines lockedBuffer
	clk := newClock()
	dep := deploy.New(deploy.Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc"})
	srv := httptest.NewServer(New(Options{Deployer: dep, Store: st, Token: testToken, Now: clk.Now,
		AuditLog: &lines, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	e := &tokenEnv{srv: srv, st: st, clk: clk}
	ctx := context.Background()
	admin := apiclient.New(srv.URL, testToken)
	const marker = "s3cr3t-MARKER-value"

	d1, err := admin.Deploy(ctx, workerApp(), "production", dto.DeployOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	d2, err := admin.ChangeConfig(ctx, "shop", "production", dto.ConfigChange{Set: map[string]string{"MODE": "fast"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	d3, err := admin.SetSecret(ctx, "shop", "production", "API_KEY", marker, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	d4, err := admin.Rollback(ctx, "shop", "production", 0, dto.DeployOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	d5, err := admin.Scale(ctx, "shop", "production", []dto.ScaleTarget{{Service: "worker", Replicas: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	viewer := e.create(t, dto.TokenRequest{Name: "look", Role: "viewer", Apps: []string{"shop"}}).Token
	clk.Advance(time.Second)
	if _, err := apiclient.New(srv.URL, viewer).Deploy(ctx, workerApp(), "production", dto.DeployOptions{}, nil); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Fatalf("the viewer's deploy: %v, want 403", err)
	}
	clk.Advance(time.Second)
	if code, _ := e.call(t, "berth_wrong", http.MethodPost, "/api/v1/apps/shop/envs/production/rollback", nil); code != http.StatusUnauthorized {
		t.Fatalf("a wrong token's rollback: %d, want 401", code)
	}

	got, err := admin.Audit(ctx, apiclient.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []dto.AuditEntry{ // newest first
		{Actor: "", Action: "rollback", App: "shop", Env: "production", Outcome: "refused", Status: 401},
		{Actor: "look", Action: "deploy", App: "shop", Env: "production", Outcome: "refused", Status: 403},
		{Actor: "admin-token", Action: "token_create", Outcome: "ok",
			Params: map[string]string{"name": "look", "role": "viewer", "apps": `["shop"]`}},
		{Actor: "admin-token", Action: "scale", App: "shop", Env: "production", Outcome: "ok", Deployment: d5.ID,
			Params: map[string]string{"services": `[{"service":"worker","replicas":2}]`}},
		{Actor: "admin-token", Action: "rollback", App: "shop", Env: "production", Outcome: "ok", Deployment: d4.ID},
		{Actor: "admin-token", Action: "secret_set", App: "shop", Env: "production", Outcome: "ok", Deployment: d3.ID,
			Params: map[string]string{"name": "API_KEY"}},
		{Actor: "admin-token", Action: "config_change", App: "shop", Env: "production", Outcome: "ok", Deployment: d2.ID,
			Params: map[string]string{"set": `{"MODE":"fast"}`}},
		{Actor: "admin-token", Action: "deploy", App: "shop", Env: "production", Outcome: "ok", Deployment: d1.ID},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %s", len(got), len(want), jsonString(t, got))
	}
	for i, w := range want {
		g := got[i]
		if g.Actor != w.Actor || g.Action != w.Action || g.App != w.App || g.Env != w.Env || g.Outcome != w.Outcome ||
			g.Status != w.Status || g.Deployment != w.Deployment || jsonString(t, g.Params) != jsonString(t, w.Params) {
			t.Errorf("entry %d:\n got %s\nwant %s", i, jsonString(t, g), jsonString(t, w))
		}
		if g.Source != "127.0.0.1" {
			t.Errorf("entry %d: source %q, want 127.0.0.1", i, g.Source)
		}
		if (g.Outcome == "ok") != (g.Error == "") {
			t.Errorf("entry %d: outcome %s with error %q", i, g.Outcome, g.Error)
		}
	}
	if d1.ID == 0 || d4.ID == 0 || d1.ID == d4.ID {
		t.Errorf("deployments %d and %d", d1.ID, d4.ID)
	}
	if d5.Kind != "scale" {
		t.Errorf("the scale's deployment is of kind %q", d5.Kind)
	}
	if !strings.Contains(got[1].Error, "may not deploy") || !strings.Contains(got[0].Error, "invalid bearer token") {
		t.Errorf("the refusals do not say why: %q, %q", got[1].Error, got[0].Error)
	}

	// The JSON lines file holds the same entries, oldest first.
	fileLines := strings.Split(strings.TrimSpace(lines.String()), "\n")
	if len(fileLines) != len(want) {
		t.Fatalf("%d lines in the audit file, want %d:\n%s", len(fileLines), len(want), lines.String())
	}
	for i, l := range fileLines {
		var e dto.AuditEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq != got[len(got)-1-i].Seq || e.Action != got[len(got)-1-i].Action {
			t.Errorf("audit file line %d: %s (%v)", i, l, err)
		}
	}

	db, err := os.ReadFile(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"the store's file": string(db), "the audit file": lines.String(), "the audit answer": jsonString(t, got)} {
		if strings.Contains(text, marker) {
			t.Errorf("the secret's value is in %s", where)
		}
		if strings.Contains(text, viewer) || strings.Contains(text, testToken) {
			t.Errorf("a token is in %s", where)
		}
	}
}

// The releases and deployments a request makes record who asked: the
// ci token's name for its deploy, admin-token for the rollback.
func TestAudit_ReleasesAndDeploymentsRecordTheirActor(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	ctx := context.Background()
	ci := apiclient.New(e.srv.URL, e.create(t, dto.TokenRequest{Name: "ci-shop", Role: "ci", Apps: []string{"shop"}}).Token)
	admin := apiclient.New(e.srv.URL, testToken)
	for _, c := range []*apiclient.Client{ci, admin} {
		if _, err := c.Deploy(ctx, workerApp(), "production", dto.DeployOptions{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.Rollback(ctx, "shop", "production", 0, dto.DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	rels, err := admin.Releases(ctx, "shop", "production")
	if err != nil {
		t.Fatal(err)
	}
	by := map[int64]string{}
	for _, r := range rels {
		by[r.ID] = r.CreatedBy
	}
	if len(by) != 2 || by[1] != "ci-shop" || by[2] != "admin-token" {
		t.Errorf("releases made by %v, want 1: ci-shop, 2: admin-token", by)
	}
	deps, err := admin.Deployments(ctx, "shop", "production", 10)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, d := range deps { // newest first
		kinds = append(kinds, string(d.Kind)+":"+d.CreatedBy)
	}
	if strings.Join(kinds, " ") != "rollback:admin-token deploy:admin-token deploy:ci-shop" {
		t.Errorf("deployments: %v", kinds)
	}
}
