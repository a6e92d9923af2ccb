package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/testutil"
)

// A Compose file without x-berth deploys reachable: the service with
// expose: is routed at SERVICE.APP.localhost, the ones with nginx-proxy's
// VIRTUAL_HOST and Traefik's labels at their hosts, the database is not
// routed, and the deploy output says each decision.
func TestIntent_ComposeFileWithoutXBerthIsRouted(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	img := image(t).Ref
	file := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+img+`
    environment: { VERSION: web-v1 }
    expose: ["8080"]
  shop:
    image: `+img+`
    environment: { VERSION: shop-v1, VIRTUAL_HOST: "`+host+`", VIRTUAL_PORT: "8080" }
  admin:
    image: `+img+`
    environment: { VERSION: admin-v1 }
    labels:
      traefik.enable: "true"
      traefik.http.routers.admin.rule: Host(`+"`admin-"+host+"`"+`)
      traefik.http.services.admin.loadbalancer.server.port: "8080"
  db:
    image: `+img+`
    environment: { VERSION: db-v1 }
    expose: ["5432"]
`)
	code, out, errOut := s.berth(t, "deploy", "-f", file)
	if code != 0 {
		t.Fatalf("deploy exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"note: web: HTTP on container port 8080 (from expose:) → routed at web." + name + ".localhost; add x-berth.hosts for your domain\n",
		"note: shop: routed at " + host + " on port 8080, imported from VIRTUAL_HOST/VIRTUAL_PORT\n",
		"note: admin: routed at admin-" + host + " on port 8080, imported from Traefik labels (router admin) and traefik.http.services.admin.loadbalancer.server.port\n",
		"note: db: not routed: port 5432 is PostgreSQL, not HTTP",
		"release 1 of " + name + "/production is live",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct{ host, body string }{
		{"web." + name + ".localhost", "web-v1"},
		{host, "shop-v1"},
		{"admin-" + host, "admin-v1"},
	} {
		if code, body := get(t, s.addrs.HTTP, tc.host, "/"); code != 200 || body != tc.body {
			t.Errorf("GET http://%s/: %d %q, want 200 %q", tc.host, code, body, tc.body)
		}
	}
	// The imported settings stay the container's.
	if code, body := get(t, s.addrs.HTTP, host, "/env?name=VIRTUAL_HOST"); code != 200 || body != host {
		t.Errorf("VIRTUAL_HOST in the container: %d %q, want %q", code, body, host)
	}
	// The database is not routed: no host of it answers.
	if code, _ := get(t, s.addrs.HTTP, "db."+name+".localhost", "/"); code != 404 {
		t.Errorf("GET db.%s.localhost: %d, want 404", name, code)
	}

	// Another environment of the app gets default hosts of its own.
	t.Cleanup(func() { // before newApp's, which only knows production's network
		stopServersOf(t) // else it would replace what is removed
		removeApp(eng, name)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := eng.RemoveNetwork(ctx, deploy.NetworkName(name, "staging")); err != nil {
			t.Errorf("remove the staging network: %v", err)
		}
	})
	stagingHost := "web.staging." + name + ".localhost"
	stagingFile := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+img+`
    environment: { VERSION: web-staging }
    expose: ["8080"]
`)
	code, out, errOut = s.berth(t, "deploy", "-f", stagingFile, "--env", "staging")
	if code != 0 {
		t.Fatalf("deploy --env staging exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "→ routed at "+stagingHost+";") {
		t.Errorf("staging deploy output does not name %s:\n%s", stagingHost, out)
	}
	if code, body := get(t, s.addrs.HTTP, stagingHost, "/"); code != 200 || body != "web-staging" {
		t.Errorf("GET http://%s/: %d %q", stagingHost, code, body)
	}
	if code, body := get(t, s.addrs.HTTP, "web."+name+".localhost", "/"); code != 200 || body != "web-v1" {
		t.Errorf("production after the staging deploy: %d %q", code, body)
	}
}

// A git push of a Compose file without x-berth is routed the same way,
// and the build log carries the note.
func TestIntent_GitPushLogsTheRoutingNote(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, _ := newApp(t, eng)
	repo := newGitRepo(t)
	commit := repo.commit(map[string]string{
		"Dockerfile": "FROM " + image(t).ID + "\nENV VERSION=pushed\n",
		"compose.yaml": `services:
  web:
    build: .
    expose: ["8080"]
`,
	}, "first")
	ctx := context.Background()
	res, err := s.client.Connect(ctx, name, dto.ConnectRequest{Repo: repo.URL, Branches: map[string]string{"main": "production"}})
	if err != nil {
		t.Fatal(err)
	}
	code, hr := githubHook(t, "http://"+s.addrs.API+res.WebhookPath, res.Secret, "d-1", "main", commit)
	if code != http.StatusAccepted {
		t.Fatalf("push webhook: %d %+v", code, hr)
	}
	t.Cleanup(func() { // before newApp's: the image goes once its containers have
		stopServersOf(t) // else it would replace what is removed
		removeApp(eng, name)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if img, err := eng.InspectImage(ctx, name+"-web:"+commit[:12]); err == nil {
			if err := eng.RemoveImage(ctx, img.ID); err != nil {
				t.Errorf("remove the built image: %v", err)
			}
		}
	})
	var b dto.Build
	testutil.Eventually(t, 90*time.Second, "build ends", func() bool {
		b, _ = s.client.GetBuild(ctx, hr.BuildID)
		return b.Done()
	})
	logText := strings.Join(b.Log, "\n")
	if b.Status != "succeeded" {
		t.Fatalf("build: %s %s\n%s", b.Status, b.Error, logText)
	}
	host := "web." + name + ".localhost"
	if want := "note: web: HTTP on container port 8080 (from expose:) → routed at " + host + "; add x-berth.hosts for your domain"; !strings.Contains(logText, want) {
		t.Errorf("build log lacks %q:\n%s", want, logText)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/"); code != 200 || body != "pushed" {
		t.Errorf("GET http://%s/: %d %q", host, code, body)
	}
}
