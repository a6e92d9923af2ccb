package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/testutil"
)

// TestBenchPipeline is `make bench-pipeline`: from git push to the new
// commit serving 100% of requests, for examples/hello (its static binary
// committed with a FROM scratch Dockerfile), cold (new app: fresh mirror,
// no cached layers) and warm (a second push), with the split of the
// pipeline's steps. A benchmark: it prints figures and fails only when
// something breaks.
func TestBenchPipeline(t *testing.T) {
	if os.Getenv("BERTH_BENCH") != "1" {
		t.Skip("benchmark: run with make bench-pipeline")
	}
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)

	repo := newGitRepo(t)
	work := repo.work
	_, self, _, _ := runtime.Caller(0)
	repoRoot := filepath.Join(filepath.Dir(self), "..", "..")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(work, "hello"), "./examples/hello")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}
	var salt [8]byte
	_, _ = rand.Read(salt[:])
	_ = os.WriteFile(filepath.Join(work, "salt"), []byte(hex.EncodeToString(salt[:])), 0o644) // no cached layer for the cold run
	files := func(version string) map[string]string {
		return map[string]string{
			"Dockerfile": "FROM scratch\nCOPY salt /salt\nCOPY hello /hello\nEXPOSE 8080\nENTRYPOINT [\"/hello\"]\n",
			"compose.yaml": `name: ` + name + `
services:
  web:
    build: .
    environment: { VERSION: ` + version + ` }
    deploy: { replicas: 2 }
    x-berth: { port: 8080, hosts: [` + host + `], healthcheck: { path: /up, interval: 1s }, test: ["selftest"] }
`,
		}
	}
	ctx := context.Background()
	res, err := s.client.Connect(ctx, name, dto.ConnectRequest{Repo: repo.URL})
	if err != nil {
		t.Fatal(err)
	}
	hookURL := "http://" + s.addrs.API + res.WebhookPath

	type row struct {
		what                string
		total, toServe      time.Duration
		steps               string
		requests, failedReq int64
	}
	var rows []row
	run := func(what, version, prev string) {
		var l *load
		if prev != "" {
			l = startLoad(s.addrs.HTTP, host, 16)
			testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.countPrefix("hello from berth, version "+prev) > 100 })
		}
		start := time.Now()
		commit := repo.commit(files(version), version)
		_, hr := githubHook(t, hookURL, res.Secret, "bench-"+version, "main", commit)
		var b dto.Build
		deadline := time.Now().Add(3 * time.Minute)
		for b, _ = s.client.GetBuild(ctx, hr.BuildID); !b.Done(); b, _ = s.client.GetBuild(ctx, hr.BuildID) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: build %d (%+v) still %s after 3m; its log:\n%s", what, hr.BuildID, hr, b.Status, strings.Join(b.Log, "\n"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		total := time.Since(start)
		if b.Status != "succeeded" {
			if l != nil {
				l.stop()
			}
			t.Fatalf("%s: build %s: %s\n%s", what, b.Status, b.Error, strings.Join(b.Log, "\n"))
		}
		r := row{what: what, total: total}
		var parts []string
		for i, st := range b.Steps {
			end := b.EndedAt.Sub(b.StartedAt)
			if i+1 < len(b.Steps) {
				end = b.Steps[i+1].Elapsed.D()
			}
			word := strings.Fields(st.Message)[0]
			parts = append(parts, fmt.Sprintf("%s %.2fs", word, (end-st.Elapsed.D()).Seconds()))
		}
		r.steps = strings.Join(parts, ", ")
		if l != nil {
			testutil.Eventually(t, 10*time.Second, "new commit serving", func() bool { return l.countPrefix("hello from berth, version "+version) > 50 })
			l.stop()
			r.toServe = l.lastStartedPrefix("hello from berth, version " + prev).Sub(start)
			r.requests, r.failedReq = l.total.Load(), l.failed.Load()
		}
		rows = append(rows, r)
	}
	run("cold (first push)", "c1", "")
	run("warm (second push)", "w1", "c1")
	run("warm (third push)", "w2", "w1")
	fmt.Printf("\nberth pipeline benchmark: git push -> webhook -> fetch, build, test, deploy of examples/hello (2 replicas)\n")
	fmt.Printf("%-20s %12s %18s %10s %8s   %s\n", "run", "push->done", "push->100% new", "requests", "failed", "steps")
	for _, r := range rows {
		serve := "-"
		if r.toServe > 0 {
			serve = fmt.Sprintf("%.2fs", r.toServe.Seconds())
		}
		fmt.Printf("%-20s %11.2fs %18s %10d %8d   %s\n", r.what, r.total.Seconds(), serve, r.requests, r.failedReq, r.steps)
	}
}
