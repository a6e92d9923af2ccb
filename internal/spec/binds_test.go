package spec

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeProject writes files (path → content; a path ending in / is a
// directory) into a new project directory with compose.yaml, and loads it.
func writeProject(t *testing.T, compose string, files map[string]string) (string, *App, error) {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(f, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := Load(context.Background(), LoadOptions{Files: []string{f}})
	return dir, app, err
}

func TestLoad_ProjectBindsAreTheFilesUnderTheComposeFile(t *testing.T) {
	dir, app, err := writeProject(t, `name: shop
services:
  web:
    image: nginx
    volumes:
      - ./nginx.conf:/etc/nginx/nginx.conf
      - ./config/:/app/config:rw
      - /srv/shared:/shared
      - type: bind
        source: ./config/extra.conf
        target: /extra.conf
        read_only: false
`, map[string]string{"nginx.conf": "worker_processes 1;", "config/a.conf": "a", "config/extra.conf": "x"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Mount{}
	for _, m := range app.Services[0].Volumes {
		got[m.Target] = m
	}
	conf := got["/etc/nginx/nginx.conf"]
	if conf.Project != "nginx.conf" || len(conf.Content) != 64 || !conf.ReadOnly || conf.Source != filepath.Join(dir, "nginx.conf") || !conf.IsProjectBind() {
		t.Errorf("./nginx.conf: %+v (want a read-only project bind: the copy is the release's)", conf)
	}
	if c := got["/app/config"]; c.Project != "config" || c.ReadOnly || c.ShownSource() != "./config" {
		t.Errorf("./config/:rw: %+v (want writable: the file says rw)", c)
	}
	if c := got["/extra.conf"]; c.Project != "config/extra.conf" || c.ReadOnly {
		t.Errorf("long form read_only: false: %+v", c)
	}
	if h := got["/shared"]; h.Project != "" || h.Content != "" || h.IsProjectBind() || h.ReadOnly || h.Source != "/srv/shared" {
		t.Errorf("an absolute path is a host path, as Compose mounts it: %+v", h)
	}
	if s := app.BindSummary(); !strings.Contains(s, "web ./nginx.conf:/etc/nginx/nginx.conf:ro") || !strings.Contains(s, "web ./config:/app/config:rw") || strings.Contains(s, "/srv/shared") {
		t.Errorf("summary: %s", s)
	}
	if err := app.Validate(); err != nil {
		t.Errorf("a loaded app validates: %v", err)
	}
	// A service without project binds keeps its stored form.
	b, _ := json.Marshal(got["/shared"])
	if strings.Contains(string(b), "project") || strings.Contains(string(b), "content") || strings.Contains(string(b), "create_host_path") {
		t.Errorf("host path mount JSON: %s", b)
	}
}

// The content hash changes with a file's content and executable bit,
// not with where the project is, the umask or when the file was written.
func TestTreeHash_ContentAndModeOnly(t *testing.T) {
	hash := func(files map[string]string, mode os.FileMode) string {
		dir := t.TempDir()
		for p, body := range files {
			full := filepath.Join(dir, p)
			_ = os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(body), mode); err != nil {
				t.Fatal(err)
			}
			_ = os.Chmod(full, mode)
		}
		tr, err := TreeHash(dir)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Hash
	}
	a := hash(map[string]string{"x": "1", "d/y": "2"}, 0o644)
	if b := hash(map[string]string{"x": "1", "d/y": "2"}, 0o644); a != b {
		t.Errorf("same files, other directory: %s vs %s", a, b)
	}
	if b := hash(map[string]string{"x": "1", "d/y": "3"}, 0o644); a == b {
		t.Error("changed content, same hash")
	}
	if b := hash(map[string]string{"x": "1", "d/y": "2"}, 0o755); a == b {
		t.Error("made executable, same hash")
	}
	if b := hash(map[string]string{"x": "1", "d/y": "2"}, 0o600); a != b {
		t.Error("the sender's umask changed the hash")
	}
	if b := hash(map[string]string{"x": "1", "d/z": "2"}, 0o644); a == b {
		t.Error("renamed file, same hash")
	}
}

func TestLoad_MissingProjectBindIsRefusedWithThePath(t *testing.T) {
	_, _, err := writeProject(t, `name: shop
services:
  web:
    image: nginx
    volumes: ["./nginx.conf:/etc/nginx/nginx.conf:ro"]
  worker:
    image: nginx
    volumes: ["./conf.d:/etc/conf.d"]
`, nil)
	if err == nil {
		t.Fatal("a missing ./nginx.conf was accepted")
	}
	for _, want := range []string{`service "web": volumes[0]: bind mount ./nginx.conf: no such file or directory`, `service "worker": volumes[0]: bind mount ./conf.d: no such file`, "create_host_path: true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// bind.create_host_path: true mounts an empty directory, as Compose's
// long form does.
func TestLoad_CreateHostPathMountsAnEmptyDirectory(t *testing.T) {
	_, app, err := writeProject(t, `name: shop
services:
  web:
    image: nginx
    volumes:
      - { type: bind, source: ./cache, target: /cache, bind: { create_host_path: true } }
      - { type: bind, source: /srv/new, target: /new, bind: { create_host_path: true } }
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := app.Services[0].Volumes
	if !m[0].IsProjectBind() || !m[0].CreateHostPath || m[0].Project != "cache" {
		t.Errorf("./cache: %+v", m[0])
	}
	if m[1].IsProjectBind() || !m[1].CreateHostPath {
		t.Errorf("/srv/new: %+v", m[1])
	}
	files := bundleFiles(t, app)
	if len(files) != 2 || files[0] != m[0].Content+"/" || files[1] != m[0].Content+"/data/" {
		t.Errorf("bundle of an empty directory: %v", files)
	}
}

// A link that leads out of the project is refused: the git pipeline
// would otherwise send the server's own files to the app.
func TestLoad_ProjectBindLinkOutsideIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "conf")); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "compose.yaml")
	_ = os.WriteFile(f, []byte("name: shop\nservices:\n  web:\n    image: nginx\n    volumes: [\"./conf:/conf\"]\n"), 0o644)
	_, err := Load(context.Background(), LoadOptions{Files: []string{f}})
	if err == nil || !strings.Contains(err.Error(), "outside the project directory") {
		t.Fatalf("link to /etc/hostname: %v", err)
	}
}

func TestLoad_ProjectBindsOverTheLimitAreRefused(t *testing.T) {
	dir := t.TempDir()
	big, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(MaxBindBytes + 1); err != nil {
		t.Fatal(err)
	}
	big.Close()
	f := filepath.Join(dir, "compose.yaml")
	_ = os.WriteFile(f, []byte("name: shop\nservices:\n  web:\n    image: nginx\n    volumes: [\"./big.bin:/big.bin\"]\n"), 0o644)
	_, err = Load(context.Background(), LoadOptions{Files: []string{f}})
	if err == nil || !strings.Contains(err.Error(), "at most 64 MiB") || !strings.Contains(err.Error(), "./big.bin") {
		t.Fatalf("a 64 MiB bind: %v", err)
	}
}

// The bundle holds each content hash's files once, with the layout the
// server unpacks, and the hash of what it holds is the mount's.
func TestWriteBindBundle_HoldsEachHashOnce(t *testing.T) {
	_, app, err := writeProject(t, `name: shop
services:
  web:
    image: nginx
    volumes: ["./conf:/conf", "./conf/a.conf:/a.conf"]
  proxy:
    image: nginx
    volumes: ["./conf:/etc/conf"]
`, map[string]string{"conf/a.conf": "a", "conf/sub/b.conf": "b"})
	if err != nil {
		t.Fatal(err)
	}
	files := bundleFiles(t, app)
	dirHash := app.Services[0].Volumes[0].Content // proxy, sorted first
	fileHash := ""
	for _, m := range app.Services[1].Volumes {
		if m.Target == "/a.conf" {
			fileHash = m.Content
		}
	}
	want := []string{dirHash + "/", dirHash + "/data/", dirHash + "/data/a.conf", dirHash + "/data/sub/", dirHash + "/data/sub/b.conf", fileHash + "/", fileHash + "/data"}
	sort.Strings(want)
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("bundle:\n got %v\nwant %v", files, want)
	}
}

func bundleFiles(t *testing.T, app *App) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteBindBundle(&buf, app, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

// A stateful service's data must outlive its releases: a writable copy
// of project files would not.
func TestLoad_StatefulServiceWritableProjectBindIsRefused(t *testing.T) {
	_, _, err := writeProject(t, `name: shop
services:
  db:
    image: postgres
    volumes: ["./pgdata:/var/lib/postgresql/data:rw", "./pg.conf:/etc/pg.conf"]
    x-berth: { stateful: true }
`, map[string]string{"pgdata/": "", "pg.conf": "x"})
	if err == nil || !strings.Contains(err.Error(), "bind mount ./pgdata:/var/lib/postgresql/data is writable, and a stateful service keeps its data") || strings.Contains(err.Error(), "pg.conf") {
		t.Fatalf("stateful rw project bind: %v", err)
	}
}

// A relative source that leaves the project is the server's host path:
// the deploy says so rather than sending it.
func TestLoad_RelativeSourceOutsideTheProjectIsAHostPath(t *testing.T) {
	dir, app, err := writeProject(t, `name: shop
services:
  web:
    image: nginx
    volumes: ["../shared:/shared"]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := app.Services[0].Volumes[0]
	if m.IsProjectBind() || m.Source != filepath.Join(filepath.Dir(dir), "shared") {
		t.Errorf("../shared: %+v", m)
	}
	if len(app.Warnings) != 1 || !strings.Contains(app.Warnings[0], "compose.yaml: services.web.volumes[0]: ../shared is outside the Compose file's directory, so it is not sent with the deploy") {
		t.Errorf("warnings: %q", app.Warnings)
	}
}

func TestRawExplicitRW(t *testing.T) {
	for raw, want := range map[any]bool{
		"./a:/b":        false,
		"./a:/b:ro":     false,
		"./a:/b:rw":     true,
		"./a:/b:z,rw":   true,
		"./a:/b:cached": false,
		"/srv/rw:/b":    false,
	} {
		if got := rawExplicitRW(raw); got != want {
			t.Errorf("%v: %v, want %v", raw, got, want)
		}
	}
	for _, tc := range []struct {
		raw  map[string]any
		want bool
	}{
		{map[string]any{"read_only": false}, true},
		{map[string]any{"read_only": true}, false},
		{map[string]any{}, false},
	} {
		if got := rawExplicitRW(tc.raw); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.raw, got, tc.want)
		}
	}
}
