package build

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func names(t *testing.T, dir, dockerfile string) []string {
	t.Helper()
	rc, err := Context(dir, dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeDir {
			out = append(out, h.Name)
		}
	}
}

func TestContext_HonoursDockerignore(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"Dockerfile":          "FROM scratch",
		".dockerignore":       "# comment\n*.log\nnode_modules\n**/secret.txt\ndocs/*\n!docs/keep.md\nDockerfile\n",
		"main.go":             "package main",
		"debug.log":           "x",
		"node_modules/a/b.js": "x",
		"sub/secret.txt":      "x",
		"sub/ok.txt":          "x",
		"docs/drop.md":        "x",
		"docs/keep.md":        "x",
	})
	got := names(t, dir, "")
	want := []string{".dockerignore", "Dockerfile", "docs/keep.md", "main.go", "sub/ok.txt"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("context has %v, want %v", got, want)
	}
}

func TestContext_IsDeterministicAndHashesContent(t *testing.T) {
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch", "a.txt": "1"})
	h1, err := ContentHash(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	now := filepath.Join(dir, "a.txt")
	old := time.Unix(1e9, 0)
	_ = os.Chtimes(now, old, old)
	h2, _ := ContentHash(dir, "")
	if h1 != h2 {
		t.Fatal("the hash depends on file times")
	}
	_ = os.WriteFile(now, []byte("2"), 0o644)
	if h3, _ := ContentHash(dir, ""); h3 == h1 {
		t.Fatal("the hash ignores content")
	}
}

func TestContext_NeedsTheDockerfile(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.txt": "1"})
	if _, err := Context(dir, "Dockerfile.web"); err == nil {
		t.Fatal("no error without a Dockerfile")
	}
}

func TestTag(t *testing.T) {
	for _, tc := range [][4]string{
		{"shop", "web", "3f2a9c1", "shop-web:3f2a9c1"},
		{"Shop", "Web_UI", "feature/x", "shop-web_ui:feature-x"},
		{"shop", "web", "", "shop-web:r"},
	} {
		if got := Tag(tc[0], tc[1], tc[2]); got != tc[3] {
			t.Errorf("Tag(%q, %q, %q) = %q, want %q", tc[0], tc[1], tc[2], got, tc[3])
		}
	}
}
