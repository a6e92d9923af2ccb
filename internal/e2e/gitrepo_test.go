package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// gitRepo is a bare repository served by git http-backend on loopback,
// and a work tree that pushes to it.
type gitRepo struct {
	t    *testing.T
	URL  string // the repository's http URL
	work string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	root := t.TempDir()
	gitCmd(t, root, "init", "--quiet", "--bare", "--initial-branch=main", "app.git")
	gitCmd(t, filepath.Join(root, "app.git"), "config", "http.receivepack", "true")
	srv := gitServer(t, root)
	g := &gitRepo{t: t, URL: srv.URL + "/app.git", work: t.TempDir()}
	gitCmd(t, g.work, "init", "--quiet", "--initial-branch=main")
	gitCmd(t, g.work, "remote", "add", "origin", g.URL)
	// Content-Length, not chunked, for large pushes: CGI needs it.
	gitCmd(t, g.work, "config", "http.postBuffer", "104857600")
	return g
}

// commit writes files into the work tree, commits and pushes them to
// main, and returns the commit.
func (g *gitRepo) commit(files map[string]string, msg string) string {
	g.t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(g.work, name), []byte(body), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	gitCmd(g.t, g.work, "add", ".")
	gitCmd(g.t, g.work, "commit", "--quiet", "-m", msg)
	gitCmd(g.t, g.work, "push", "--quiet", "origin", "main")
	return gitCmd(g.t, g.work, "rev-parse", "HEAD")
}
