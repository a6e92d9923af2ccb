package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/store"
)

// The typed client reads what the server writes: a deploy streamed to
// its end, then the releases, deployments and status; and each response
// is the JSON the store's and the deployer's own types marshal to, the
// wire format from before the DTOs had types of their own.
func TestClient_ReadsWhatTheServerWrites(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dep := deploy.New(deploy.Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc"})
	srv := httptest.NewServer(New(Options{Deployer: dep, Store: st, Token: testToken, Logger: slog.New(slog.DiscardHandler)}).Handler())
	defer srv.Close()
	ctx := context.Background()
	c := apiclient.New(srv.URL, testToken)

	var said []string
	d, err := c.Deploy(ctx, workerApp(), "production", dto.DeployOptions{}, func(p dto.Progress) { said = append(said, p.Message) })
	if err != nil || d == nil || d.Kind != dto.KindDeploy || d.Status != dto.DeploymentSucceeded || len(said) == 0 {
		t.Fatalf("deploy: %+v, %v (progress %q)", d, err, said)
	}
	rels, err := c.Releases(ctx, "shop", "production")
	if err != nil || len(rels) != 1 || rels[0].Status != dto.StatusLive || rels[0].Services["worker"].ImageID != "sha256:1111" || rels[0].ID != d.ReleaseID {
		t.Fatalf("releases: %+v, %v", rels, err)
	}
	deps, err := c.Deployments(ctx, "shop", "production", 5)
	if err != nil || len(deps) != 1 || deps[0].ID != d.ID {
		t.Fatalf("deployments: %+v, %v", deps, err)
	}
	s, err := c.Status(ctx, "shop", "production")
	if err != nil || s.Live == nil || s.Live.ID != d.ReleaseID || s.Last == nil || s.Last.ID != d.ID || len(s.Services) != 1 || s.Services[0].Name != "worker" {
		t.Fatalf("status: %+v, %v", s, err)
	}

	storeRels, _ := st.ListReleases("shop", "production")
	storeDeps, _ := st.ListDeployments("shop", "production", 5)
	status, _ := dep.Status(ctx, "shop", "production")
	for path, want := range map[string]any{
		"/api/v1/apps/shop/envs/production/releases":       storeRels,
		"/api/v1/apps/shop/envs/production/deployments":    storeDeps,
		"/api/v1/apps/shop/envs/production/status":         status,
		"/api/v1/deployments/" + jsonString(t, d.ID):       storeDeps[0],
		"/api/v1/apps/shop/envs/production/events?limit=5": []store.Event{},
	} {
		if got, want := fetchJSON(t, srv, path), reencode(t, want); !reflect.DeepEqual(got, want) {
			t.Errorf("GET %s:\n%v\nwant the JSON of the server's own types:\n%v", path, got, want)
		}
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func reencode(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(jsonString(t, v)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func fetchJSON(t *testing.T, srv *httptest.Server, path string) any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out any
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s (%v)", path, resp.Status, b, err)
	}
	return out
}
