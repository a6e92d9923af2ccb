package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/testutil"
)

// A bind mount relative to the Compose file mounts the files of the
// release: changed in release 2, restored by the rollback to release 1,
// and never written back to the user's file.
func TestBinds_ProjectFileRollsBackWithTheRelease(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	dir := t.TempDir()
	conf := filepath.Join(dir, "app.conf")
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf.d", "extra.conf"), []byte("extra"), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(compose, []byte(`name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    volumes: ["./app.conf:/etc/app.conf", "./conf.d:/etc/conf.d:rw"]
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up, interval: 200ms } }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	deploy := func(content string) string {
		t.Helper()
		if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := s.berth(t, "deploy", "-f", compose)
		if code != 0 {
			t.Fatalf("deploy with %s: %d\n%s\n%s", content, code, out, errOut)
		}
		return out
	}
	read := func(p string) string {
		t.Helper()
		code, body := get(t, s.addrs.HTTP, host, "/read?path="+p)
		if code != 200 {
			t.Fatalf("read %s: %d %s", p, code, body)
		}
		return body
	}

	out := deploy("release-1")
	for _, want := range []string{"read-only unless the mount says rw: web ./app.conf:/etc/app.conf:ro, web ./conf.d:/etc/conf.d:rw", "sending the files of 2 bind mount source(s) of the project", "release 1 of"} {
		if !strings.Contains(out, want) {
			t.Errorf("first deploy's output lacks %q:\n%s", want, out)
		}
	}
	if got := read("/etc/app.conf"); got != "release-1" {
		t.Fatalf("release 1 reads %q", got)
	}
	if got := read("/etc/conf.d/extra.conf"); got != "extra" {
		t.Fatalf("release 1 reads conf.d/extra.conf %q", got)
	}
	// The copy is the release's, read-only unless the file says rw.
	if code, body := get(t, s.addrs.HTTP, host, "/write?path=/etc/app.conf&data=changed"); code == 200 {
		t.Errorf("the container wrote to a read-only bind: %d %s", code, body)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/write?path=/etc/conf.d/new.conf&data=written"); code != 200 {
		t.Errorf("the container could not write to its rw copy: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf.d", "new.conf")); err == nil {
		t.Error("the container wrote into the user's directory")
	}

	out = deploy("release-2")
	if !strings.Contains(out, "sending the files of 1 bind mount source(s) of the project") {
		t.Errorf("second deploy should send only the changed file:\n%s", out)
	}
	if got := read("/etc/app.conf"); got != "release-2" {
		t.Fatalf("release 2 reads %q", got)
	}

	code, out, errOut := s.berth(t, "rollback", name)
	if code != 0 {
		t.Fatalf("rollback: %d\n%s\n%s", code, out, errOut)
	}
	if got := read("/etc/app.conf"); got != "release-1" {
		t.Fatalf("after the rollback to release 1 the container reads %q", got)
	}
	if b, _ := os.ReadFile(conf); string(b) != "release-2" {
		t.Errorf("the user's file holds %q", b)
	}
}

// Every bad bind mount of every service is refused in one message, before
// any image is built and before anything changes.
func TestBinds_RefusedBeforeTheBuild(t *testing.T) {
	eng := requireDocker(t)
	root := t.TempDir()
	s := startServerWith(t, t.TempDir(), nil)
	name, host := newApp(t, eng)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+image(t).ID+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(compose, []byte(`name: `+name+`
services:
  web:
    build: .
    volumes: ["/etc:/host-etc:ro", "`+root+`:/data"]
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
  agent:
    image: `+image(t).Ref+`
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := s.berth(t, "deploy", "-f", compose)
	if code == 0 {
		t.Fatalf("deploy with bad binds succeeded:\n%s", out)
	}
	t.Logf("refusal:\n%s", errOut)
	for _, want := range []string{"3 bind mounts cannot be mounted", `service "web": bind mount /etc:/host-etc`, `service "web": bind mount ` + root + `:/data`, `service "agent": bind mount /var/run/docker.sock:/var/run/docker.sock is the Docker engine's socket`, "--bind-root", "--allow-docker-socket", "nothing was built or deployed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "building") || strings.Contains(out, "built web") {
		t.Errorf("an image was built before the refusal:\n%s", out)
	}
	if rels, _ := s.client.Releases(t.Context(), name, "production"); len(rels) != 0 {
		t.Errorf("a refused deploy created %d releases", len(rels))
	}

	// With the root allowed, only the other two are refused.
	s.stop()
	s = startServerWith(t, s.dataDir, func(c *daemon.Config) { c.BindRoots = []string{t.TempDir(), root} })
	_, _, errOut = s.berth(t, "deploy", "-f", compose)
	if !strings.Contains(errOut, "2 bind mounts cannot be mounted") || strings.Contains(errOut, root+":/data") {
		t.Errorf("with --bind-root %s:\n%s", root, errOut)
	}
}

// The git pipeline sends a project bind's files from its checkout: each
// commit's release mounts that commit's file.
func TestBinds_PipelineMountsTheCommitsFiles(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	repo := newGitRepo(t)
	files := func(conf string) map[string]string {
		return map[string]string{
			"app.conf": conf,
			"compose.yaml": `services:
  web:
    image: ` + image(t).Ref + `
    volumes: ["./app.conf:/etc/app.conf"]
    x-berth: { port: 8080, hosts: [` + host + `], healthcheck: { path: /up } }
`,
		}
	}
	ctx := t.Context()
	res, err := s.client.Connect(ctx, name, dto.ConnectRequest{Repo: repo.URL, Branches: map[string]string{"main": "production"}})
	if err != nil {
		t.Fatal(err)
	}
	hookURL := "http://" + s.addrs.API + res.WebhookPath
	for i, conf := range []string{"from-commit-1", "from-commit-2"} {
		commit := repo.commit(files(conf), conf)
		code, hr := githubHook(t, hookURL, res.Secret, fmt.Sprintf("d-%d", i), "main", commit)
		if code != http.StatusAccepted {
			t.Fatalf("push: %d %+v", code, hr)
		}
		var b dto.Build
		testutil.Eventually(t, 90*time.Second, "build ends", func() bool {
			b, _ = s.client.GetBuild(ctx, hr.BuildID)
			return b.Done()
		})
		if b.Status != "succeeded" {
			t.Fatalf("build of %s: %s %s\n%s", conf, b.Status, b.Error, strings.Join(b.Log, "\n"))
		}
		if log := strings.Join(b.Log, "\n"); !strings.Contains(log, "web ./app.conf:/etc/app.conf:ro") {
			t.Errorf("build log does not say how the file is mounted:\n%s", log)
		}
		if code, body := get(t, s.addrs.HTTP, host, "/read?path=/etc/app.conf"); code != 200 || body != conf {
			t.Fatalf("after %s the container reads %d %q", conf, code, body)
		}
	}
}
