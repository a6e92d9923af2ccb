package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/internal/webhook"
)

// gitServer serves bare repositories under root with git http-backend.
func gitServer(t *testing.T, root string) *httptest.Server {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		t.Skip("git http-backend missing")
	}
	srv := httptest.NewServer(&cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	t.Cleanup(srv.Close)
	return srv
}

func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ana", "GIT_AUTHOR_EMAIL=ana@example.test", "GIT_COMMITTER_NAME=Ana", "GIT_COMMITTER_EMAIL=ana@example.test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// githubHook sends a push webhook the way GitHub does.
func githubHook(t *testing.T, url, secret, delivery, branch, commit string) (int, dto.HookResponse) {
	t.Helper()
	body := []byte(`{"ref":"refs/heads/` + branch + `","after":"` + commit + `","repository":{"clone_url":"x"},"pusher":{"name":"ana"},"head_commit":{"message":"change","author":{"name":"Ana"}}}`)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", webhook.Sign(body, secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hr dto.HookResponse
	_ = json.NewDecoder(resp.Body).Decode(&hr)
	return resp.StatusCode, hr
}

func TestPipeline_GitPushWebhookBuildsAndDeploys(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)

	// A bare repository served over HTTP by git http-backend.
	repo := newGitRepo(t)
	files := func(version string) map[string]string {
		named := "name: " + name + "\n"
		if version == "commit-2" {
			named = "" // deploys as the connected app
		}
		return map[string]string{
			"Dockerfile": "FROM " + image(t).ID + "\nENV VERSION=" + version + "\n",
			"compose.yaml": named + `services:
  web:
    build: .
    x-berth: { port: 8080, hosts: [` + host + `], healthcheck: { path: /up }, test: ["print", "tests pass"] }
`,
		}
	}
	commit := repo.commit(files("commit-1"), "first")

	ctx := context.Background()
	res, err := s.client.Connect(ctx, name, dto.ConnectRequest{Repo: repo.URL, Branches: map[string]string{"main": "production"}})
	if err != nil {
		t.Fatal(err)
	}
	hookURL := "http://" + s.addrs.API + res.WebhookPath

	// A bad signature builds nothing.
	if code, _ := githubHook(t, hookURL, "wrong-secret", "d-0", "main", commit); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	code, hr := githubHook(t, hookURL, res.Secret, "d-1", "main", commit)
	if code != http.StatusAccepted || hr.Status != "queued" {
		t.Fatalf("push webhook: %d %+v", code, hr)
	}
	// The same delivery again is not built twice.
	if code, hr := githubHook(t, hookURL, res.Secret, "d-1", "main", commit); code != http.StatusOK || hr.Status != "duplicate" {
		t.Fatalf("repeated delivery: %d %+v", code, hr)
	}
	// A branch mapped to nothing is accepted and ignored, with the reason.
	if code, hr := githubHook(t, hookURL, res.Secret, "d-2", "feature", commit); code != http.StatusAccepted || hr.Status != "ignored" || !strings.Contains(hr.Reason, "feature") {
		t.Fatalf("unmapped branch: %d %+v", code, hr)
	}
	waitBuild := func(id int64) dto.Build {
		t.Helper()
		var b dto.Build
		testutil.Eventually(t, 90*time.Second, "build ends", func() bool {
			b, _ = s.client.GetBuild(ctx, id)
			return b.Done()
		})
		return b
	}
	b := waitBuild(hr.BuildID)
	if b.Status != "succeeded" || b.DeploymentID == 0 {
		t.Fatalf("build: %s %s\n%s", b.Status, b.Error, strings.Join(b.Log, "\n"))
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "commit-1" {
		t.Fatalf("after the first push: %q", body)
	}
	logText := strings.Join(b.Log, "\n")
	for _, want := range []string{"fetch", "build web as " + name + "-web:" + commit[:12], "tests pass", "deploy to production"} {
		if !strings.Contains(logText, want) {
			t.Errorf("build log lacks %q:\n%s", want, logText)
		}
	}

	// A second push deploys the new commit under load, without failures;
	// its compose.yaml has no name: and deploys as the connected app.
	commit2 := repo.commit(files("commit-2"), "second")
	l := startLoad(s.addrs.HTTP, host, 16)
	_, hr = githubHook(t, hookURL, res.Secret, "d-3", "main", commit2)
	b = waitBuild(hr.BuildID)
	testutil.Eventually(t, 10*time.Second, "commit-2 serving", func() bool { return l.count("commit-2") > 50 })
	l.stop()
	if b.Status != "succeeded" || l.failed.Load() != 0 {
		t.Fatalf("second build %s, load %s", b.Status, l.summary())
	}
	code2, out, _ := s.berth(t, "builds", name)
	if code2 != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, commit2[:12]) {
		t.Fatalf("berth builds:\n%s", out)
	}
}

func TestPipeline_OneBuildAtATimeSupersedeAndCancel(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	repo := newGitRepo(t)
	commit := func(version, testCmd string) string {
		return repo.commit(map[string]string{
			"Dockerfile": "FROM " + image(t).ID + "\nENV VERSION=" + version + "\n",
			"compose.yaml": `name: ` + name + `
services:
  web:
    build: .
    x-berth: { port: 8080, hosts: [` + host + `], healthcheck: { path: /up }, test: ` + testCmd + ` }
`,
		}, version)
	}
	ctx := context.Background()
	res, err := s.client.Connect(ctx, name, dto.ConnectRequest{Repo: repo.URL})
	if err != nil {
		t.Fatal(err)
	}
	hook := "http://" + s.addrs.API + res.WebhookPath
	c1 := commit("v1", `["print", "ok"]`)
	b1 := mustHook(t, hook, res.Secret, "s-1", c1)
	// While build 1 runs (or just ran), queue two pushes of the branch:
	// the older of them is superseded by the newer.
	c2 := commit("v2", `["print", "ok"]`)
	c3 := commit("v3", `["print", "ok"]`)
	b2 := mustHook(t, hook, res.Secret, "s-2", c2)
	b3 := mustHook(t, hook, res.Secret, "s-3", c3)
	var final dto.Build
	testutil.Eventually(t, 90*time.Second, "last build ends", func() bool {
		final, _ = s.client.GetBuild(ctx, b3)
		return final.Done()
	})
	first, _ := s.client.GetBuild(ctx, b1)
	second, _ := s.client.GetBuild(ctx, b2)
	if final.Status != "succeeded" {
		t.Fatalf("newest build: %s %s", final.Status, final.Error)
	}
	// Build 2 either ran before build 3 arrived or was superseded by it:
	// never both queued and then built after build 3.
	if second.Status != "superseded" && second.Status != "succeeded" && second.Status != "failed" {
		t.Fatalf("build 2: %s", second.Status)
	}
	if second.Status == "succeeded" && second.EndedAt.After(final.StartedAt) {
		t.Fatalf("builds 2 and 3 overlapped: 2 ended %s, 3 started %s", second.EndedAt, final.StartedAt)
	}
	if first.EndedAt.After(final.StartedAt) {
		t.Fatal("builds 1 and 3 overlapped")
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "v3" {
		t.Fatalf("serving %q after the last push", body)
	}

	// Cancel: a build whose test never ends is cancelled, nothing deployed.
	c4 := commit("v4", `["sleep", "600"]`)
	b4 := mustHook(t, hook, res.Secret, "s-4", c4)
	testutil.Eventually(t, 60*time.Second, "build 4 testing", func() bool {
		b, _ := s.client.GetBuild(ctx, b4)
		return b.Status == "running" && strings.Contains(strings.Join(b.Log, "\n"), "test: sleep 600")
	})
	if code, out, errOut := s.berth(t, "builds", "cancel", fmt.Sprint(b4)); code != 0 {
		t.Fatalf("cancel: %s %s", out, errOut)
	}
	var cancelled dto.Build
	testutil.Eventually(t, 30*time.Second, "build 4 cancelled", func() bool {
		cancelled, _ = s.client.GetBuild(ctx, b4)
		return cancelled.Done()
	})
	if cancelled.Status != "cancelled" {
		t.Fatalf("build 4: %s %s", cancelled.Status, cancelled.Error)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "v3" {
		t.Fatalf("serving %q after the cancelled build", body)
	}
}

func mustHook(t *testing.T, url, secret, delivery, commit string) int64 {
	t.Helper()
	code, hr := githubHook(t, url, secret, delivery, "main", commit)
	if code != http.StatusAccepted || hr.BuildID == 0 {
		t.Fatalf("webhook for %s: %d %+v", commit, code, hr)
	}
	return hr.BuildID
}

func TestPipeline_HTTPRepositoryWithAToken(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	root := t.TempDir()
	gitCmd(t, root, "init", "--quiet", "--bare", "--initial-branch=main", "shop.git")
	gitCmd(t, filepath.Join(root, "shop.git"), "config", "http.receivepack", "true")
	backend := &cgi.Handler{Path: "/usr/lib/git-core/git-http-backend", Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "tok3n" {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	defer srv.Close()
	work := t.TempDir()
	gitCmd(t, work, "init", "--quiet", "--initial-branch=main")
	_ = os.WriteFile(filepath.Join(work, "Dockerfile"), []byte("FROM "+image(t).ID+"\nENV VERSION=private\n"), 0o644)
	_ = os.WriteFile(filepath.Join(work, "compose.yaml"), []byte(`name: `+name+`
services:
  web:
    build: .
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
`), 0o644)
	gitCmd(t, work, "add", ".")
	gitCmd(t, work, "commit", "--quiet", "-m", "first")
	authed := strings.Replace(srv.URL, "http://", "http://robot:tok3n@", 1)
	gitCmd(t, work, "push", "--quiet", authed+"/shop.git", "main")
	commit := gitCmd(t, work, "rev-parse", "HEAD")

	r, w, _ := os.Pipe()
	go func() { w.WriteString("robot:tok3n\n"); w.Close() }()
	old := os.Stdin
	os.Stdin = r
	code, out, errOut := s.berth(t, "apps", "connect", name, "--repo", srv.URL+"/shop.git", "--token-stdin")
	os.Stdin = old
	if code != 0 || strings.Contains(out, "tok3n") {
		t.Fatalf("connect: %d %s %s", code, out, errOut)
	}
	secret := lastField(out, "Secret:")
	_, hr := githubHook(t, "http://"+s.addrs.API+"/hooks/"+name, secret, "tok-1", "main", commit)
	ctx := context.Background()
	var b dto.Build
	testutil.Eventually(t, 90*time.Second, "build ends", func() bool {
		b, _ = s.client.GetBuild(ctx, hr.BuildID)
		return b.Done()
	})
	if b.Status != "succeeded" {
		t.Fatalf("build with a token: %s %s", b.Status, b.Error)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "private" {
		t.Fatalf("serving %q", body)
	}
}
