package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/build"
	"github.com/berth-dev/berth/internal/store"
)

// A GitHub push that queues a build is recorded as webhook_build by
// webhook:github with the build's id, its branch and commit, never the
// webhook's secret; a delivery with a bad signature starts nothing and
// is recorded as refused (401).
func TestAudit_WebhookBuildIsRecorded(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const secret = "hook-secret-MARKER"
	if err := st.SetConnection(store.Connection{App: "shop", Repo: "file:///nonexistent", File: "compose.yaml",
		Branches: map[string]string{"main": "production"}}, secret, "", ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pipe := &build.Pipeline{Store: st, WorkDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}
	pipe.Start(ctx)
	t.Cleanup(func() { cancel(); pipe.Wait() })
	srv := httptest.NewServer(New(Options{Pipeline: pipe, Store: st, Token: testToken, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)

	body := []byte(`{"ref":"refs/heads/main","after":"3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d","repository":{"clone_url":"file:///nonexistent"}}`)
	send := func(key string) int {
		t.Helper()
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/shop", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "d-"+key)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("a bad signature: %d, want 401", code)
	}
	if code := send(secret); code != http.StatusAccepted {
		t.Fatalf("a signed push: %d, want 202", code)
	}
	es, err := apiclient.New(srv.URL, testToken).Audit(context.Background(), apiclient.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 {
		t.Fatalf("%d entries, want 2: %s", len(es), jsonString(t, es))
	}
	if r := es[1]; r.Actor != "webhook:github" || r.Action != "webhook_build" || r.Outcome != "refused" || r.Status != http.StatusUnauthorized || r.Build != 0 {
		t.Errorf("the bad signature's entry %s", jsonString(t, r))
	}
	e := es[0]
	if e.Actor != "webhook:github" || e.Action != "webhook_build" || e.App != "shop" || e.Env != "production" || e.Outcome != "ok" ||
		e.Build == 0 || e.Params["branch"] != "main" || !strings.HasPrefix(e.Params["commit"], "3f2a9c1") {
		t.Errorf("entry %s", jsonString(t, e))
	}
	if strings.Contains(jsonString(t, es), secret) {
		t.Error("the webhook's secret is in the audit log")
	}
}
