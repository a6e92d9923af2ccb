package build

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeTree makes a temp dir with files (name → content; a name ending in
// "/" is an empty directory).
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// entries reads the context of dir: every header, in stream order.
func entries(t *testing.T, dir, dockerfile string) []*tar.Header {
	t.Helper()
	rc, err := Context(dir, dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

// files are the names of the non-directory entries.
func files(t *testing.T, dir, dockerfile string) []string {
	t.Helper()
	var out []string
	for _, h := range entries(t, dir, dockerfile) {
		if h.Typeflag != tar.TypeDir {
			out = append(out, h.Name)
		}
	}
	sort.Strings(out)
	return out
}

func contextBytes(t *testing.T, dir string) []byte {
	t.Helper()
	rc, err := Context(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContext_DeterministicWhateverTimesAndPlace(t *testing.T) {
	tree := map[string]string{"Dockerfile": "FROM scratch\nCOPY . /\n", "a.txt": "1", "sub/b.txt": "2", "empty/": ""}
	d1, d2 := writeTree(t, tree), writeTree(t, tree)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"a.txt", "sub/b.txt", "sub", "empty"} {
		if err := os.Chtimes(filepath.Join(d2, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	b1, b2 := contextBytes(t, d1), contextBytes(t, d2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("the same content in two directories with other times gives different tars")
	}
	h1, err := ContentHash(d1, "")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b1)
	if h1 != hex.EncodeToString(sum[:]) {
		t.Fatal("ContentHash is not the hash of the context Context streams")
	}
	if h2, _ := ContentHash(d2, ""); h1 != h2 {
		t.Fatal("the hash depends on file times")
	}
	var names []string
	for _, h := range entries(t, d1, "") {
		names = append(names, h.Name)
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: header not normalised: %v %d %d %q %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
	}
	want := []string{"Dockerfile", "a.txt", "empty/", "sub/", "sub/b.txt"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("entries %v, want %v (lexical order)", names, want)
	}

	if err := os.WriteFile(filepath.Join(d2, "a.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h3, _ := ContentHash(d2, ""); h3 == h1 {
		t.Fatal("the hash ignores content")
	}
	if err := os.Chmod(filepath.Join(d1, "a.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if h4, _ := ContentHash(d1, ""); h4 == h1 {
		t.Fatal("the hash ignores the executable bit")
	}
}

func TestContext_KeepsSymlinksAsLinks(t *testing.T) {
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch", "real/f.txt": "x"})
	for link, target := range map[string]string{"to-dir": "real", "to-file": "real/f.txt", "dangling": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for _, h := range entries(t, dir, "") {
		if h.Typeflag == tar.TypeSymlink {
			got[h.Name] = h.Linkname
		}
		if strings.HasPrefix(h.Name, "to-dir/") {
			t.Errorf("followed the link into %s", h.Name)
		}
	}
	want := map[string]string{"to-dir": "real", "to-file": "real/f.txt", "dangling": "nowhere"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("links %v, want %v", got, want)
	}
}

func TestContext_ContextDirMayBeALink(t *testing.T) {
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch", "a.txt": "1"})
	link := filepath.Join(t.TempDir(), "ctx")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if got := files(t, link, ""); !reflect.DeepEqual(got, []string{"Dockerfile", "a.txt"}) {
		t.Fatalf("context through a link: %v", got)
	}
}

func TestContext_LeavesSocketsOut(t *testing.T) {
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch"})
	l, err := net.Listen("unix", filepath.Join(dir, "app.sock"))
	if err != nil {
		t.Skip("no unix sockets here:", err)
	}
	defer l.Close()
	if got := files(t, dir, ""); !reflect.DeepEqual(got, []string{"Dockerfile"}) {
		t.Fatalf("context %v", got)
	}
}

func TestContext_Dockerfile(t *testing.T) {
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch", "build/web.Dockerfile": "FROM scratch", "a.txt": "1"})
	if got := files(t, dir, "build/web.Dockerfile"); !reflect.DeepEqual(got, []string{"Dockerfile", "a.txt", "build/web.Dockerfile"}) {
		t.Errorf("relative dockerfile: %v", got)
	}
	if got := files(t, dir, filepath.Join(dir, "build", "web.Dockerfile")); len(got) != 3 {
		t.Errorf("absolute dockerfile inside the context: %v", got)
	}
	if got := files(t, dir, "./build/../Dockerfile"); len(got) != 3 {
		t.Errorf("unclean dockerfile path: %v", got)
	}
	for name, df := range map[string]string{
		"missing":          "Dockerfile.prod",
		"outside":          "../Dockerfile",
		"outside absolute": filepath.Join(t.TempDir(), "Dockerfile"),
		"a directory":      "build",
	} {
		if _, err := Context(dir, df); err == nil {
			t.Errorf("%s dockerfile %s: no error", name, df)
		} else if !strings.Contains(err.Error(), "context") {
			t.Errorf("%s: %q does not say what to do", name, err)
		}
		if _, err := ContentHash(dir, df); err == nil {
			t.Errorf("%s: ContentHash: no error", name)
		}
	}
	if _, err := Context(filepath.Join(dir, "a.txt"), ""); err == nil {
		t.Error("a file as the context: no error")
	}
}

func TestContext_EarlyCloseEndsTheWriter(t *testing.T) {
	tree := map[string]string{"Dockerfile": "FROM scratch"}
	for i := range 50 {
		tree[filepath.Join("d", string(rune('a'+i%26))+strings.Repeat("x", i))] = strings.Repeat("y", 64<<10)
	}
	dir := writeTree(t, tree)
	rc, err := Context(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after Close")
	}
}

func sortStrings(s []string) { sort.Strings(s) }
