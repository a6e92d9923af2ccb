package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/store"
)

// An uploaded Compose file is read by the server, interpolated from the
// environment's configuration and named by the URL: the check says what
// it would deploy and changes nothing; the deploy makes it live. What
// needs files beside it, a build or another app's name is refused,
// saying what to do.
func TestServer_DeployAnUploadedComposeFile(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dep := deploy.New(deploy.Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc"})
	t.Cleanup(dep.Close)
	srv := httptest.NewServer(New(Options{Deployer: dep, Store: st, Token: testToken, Logger: slog.New(slog.DiscardHandler)}).Handler())
	defer srv.Close()
	ctx := context.Background()
	c := apiclient.New(srv.URL, testToken)

	const compose = "services:\n  worker:\n    image: shop:${TAG:-0}\n    command: [\"/app\", \"worker\"]\n    deploy: { replicas: 2 }\n"
	if _, err := st.SetConfig("shop", "production", map[string]string{"TAG": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	chk, err := c.CheckCompose(ctx, "shop", "production", []byte(compose))
	if err != nil {
		t.Fatal(err)
	}
	if chk.App.Name != "shop" || len(chk.App.Services) != 1 || chk.App.Services[0].Image != "shop:1" || chk.App.Services[0].Replicas != 2 {
		t.Fatalf("the check read %+v", chk.App)
	}
	if rels, _ := st.ListReleases("shop", "production"); len(rels) != 0 {
		t.Fatalf("the check made releases: %+v", rels)
	}
	d, err := c.DeployCompose(ctx, "shop", "production", []byte(compose), dto.DeployOptions{}, nil)
	if err != nil || d == nil || d.Status != dto.DeploymentSucceeded {
		t.Fatalf("deploy: %+v, %v", d, err)
	}
	rel, err := st.LiveRelease("shop", "production")
	if err != nil || rel.Spec.Services[0].Image != "shop:1" {
		t.Fatalf("live release: %+v, %v", rel, err)
	}

	for _, tc := range []struct{ name, file, says string }{
		{"empty", "  \n", "is empty"},
		{"not compose", "services: [", "yaml"},
		{"build", "services:\n  web:\n    build: .\n", "cannot send its build context"},
		{"project bind", "services:\n  web:\n    image: shop:1\n    volumes: [\"./static:/srv/static\"]\n", "needs files beside it"},
		{"env_file", "services:\n  web:\n    image: shop:1\n    env_file: [app.env]\n", "berth deploy -f FILE"},
		{"another app", "name: other\nservices:\n  web:\n    image: shop:1\n", `names the app "other"`},
	} {
		_, err := c.CheckCompose(ctx, "shop", "production", []byte(tc.file))
		if !apiclient.IsStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "berth-upload-") {
			t.Errorf("%s: %v, want a 400 saying %q", tc.name, err, tc.says)
		}
	}
	if _, err := c.DeployCompose(ctx, "shop", "production", []byte("services:\n  web:\n    build: .\n"), dto.DeployOptions{}, nil); err == nil {
		t.Error("a deploy of a file with build: was accepted")
	}
}
