package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

func bindDeployer(t *testing.T, o Options) *Deployer {
	t.Helper()
	if o.Engine == nil {
		o.Engine = enginetest.NewFake()
	}
	o.Store, o.Proxy = newTestStore(t), proxy.New(proxy.Options{})
	return New(o)
}

func bindApp(mounts ...spec.Mount) *spec.App {
	a := testApp()
	a.Services[0].Volumes = mounts
	a.Services[1].Volumes = nil
	return a
}

func hostBind(src, target string) spec.Mount {
	return spec.Mount{Type: "bind", Source: src, Target: target}
}

// Every offending mount of every service is named in one refusal.
func TestCheckBinds_ListsEveryOffender(t *testing.T) {
	rootA, rootB := t.TempDir(), t.TempDir()
	d := bindDeployer(t, Options{BindRoot: rootA, BindRoots: []string{rootB}})
	a := bindApp(hostBind("/etc", "/host-etc"), hostBind(filepath.Join(rootA, "."), "/a"), hostBind("/var/run/docker.sock", "/var/run/docker.sock"))
	a.Services[1].Volumes = []spec.Mount{hostBind(rootB, "/b"), hostBind("/srv/elsewhere", "/x"), hostBind("/run", "/run")}
	err := d.CheckBinds(a, "production")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want a refusal, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"4 bind mounts cannot be mounted",
		`service "` + a.Services[0].Name + `": bind mount /etc:/host-etc is outside the server's --bind-root ` + rootA + ", " + rootB,
		`bind mount /var/run/docker.sock:/var/run/docker.sock is the Docker engine's socket: an app that can reach the engine is root on the host`,
		"--allow-docker-socket",
		`service "` + a.Services[1].Name + `": bind mount /srv/elsewhere:/x is outside`,
		`bind mount /run:/run holds the Docker engine's socket /run/docker.sock`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q:\n%s", want, msg)
		}
	}
	for _, ok := range []string{":/a ", ":/b "} {
		if strings.Contains(msg, ok) {
			t.Errorf("a mount under a root is refused (%s):\n%s", ok, msg)
		}
	}
}

func TestCheckBinds_SeveralRoots(t *testing.T) {
	rootA, rootB := t.TempDir(), t.TempDir()
	d := bindDeployer(t, Options{BindRoots: []string{rootA, rootB}})
	if err := d.CheckBinds(bindApp(hostBind(rootA, "/a"), hostBind(rootB, "/b")), "production"); err != nil {
		t.Errorf("mounts under either root: %v", err)
	}
	// A link under a root that leads out of it is outside.
	link := filepath.Join(rootA, "etc")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckBinds(bindApp(hostBind(link, "/etc2")), "production"); err == nil || !strings.Contains(err.Error(), "it leads to /etc") {
		t.Errorf("link out of the root: %v", err)
	}
	// A missing path is made when the file asks for it.
	missing := filepath.Join(rootB, "new")
	m := hostBind(missing, "/new")
	m.CreateHostPath = true
	app := bindApp(m)
	if err := d.checkBinds(app, "production"); err != nil {
		t.Errorf("create_host_path: %v", err)
	}
	if st, err := os.Stat(missing); err != nil || !st.IsDir() {
		t.Errorf("create_host_path did not create %s: %v", missing, err)
	}
	// No root at all: host paths are refused, with what to do.
	none := bindDeployer(t, Options{})
	if err := none.CheckBinds(bindApp(hostBind(rootA, "/a")), "production"); err == nil || !strings.Contains(err.Error(), "allows no host paths") || !strings.Contains(err.Error(), "--bind-root") {
		t.Errorf("no roots: %v", err)
	}
}

func TestCheckBinds_DockerSocketAllowedExplicitly(t *testing.T) {
	sockDir := t.TempDir()
	sock := filepath.Join(sockDir, "engine.sock")
	refusing := bindDeployer(t, Options{BindRoots: []string{"/"}, EngineSocket: sock})
	for _, src := range []string{"/var/run/docker.sock", "/run/docker.sock", sock, sockDir} {
		if err := refusing.CheckBinds(bindApp(hostBind(src, "/sock")), "production"); err == nil || !strings.Contains(err.Error(), "root on the host") {
			t.Errorf("%s: %v", src, err)
		}
	}
	// --allow-docker-socket is enough for the socket itself; a directory
	// holding it must still be under a --bind-root.
	for _, src := range []string{"/var/run/docker.sock", "/run/docker.sock", sock} {
		d := bindDeployer(t, Options{EngineSocket: sock, AllowDockerSocket: true})
		if err := d.CheckBinds(bindApp(hostBind(src, "/var/run/docker.sock")), "production"); err != nil {
			t.Errorf("--allow-docker-socket, no --bind-root, %s: %v", src, err)
		}
		if err := d.CheckBinds(bindApp(hostBind(filepath.Dir(src), "/sockets")), "production"); err == nil {
			t.Errorf("--allow-docker-socket lets %s be mounted without a --bind-root", filepath.Dir(src))
		}
	}
	allowing := bindDeployer(t, Options{BindRoots: []string{"/"}, EngineSocket: sock, AllowDockerSocket: true})
	if err := allowing.CheckBinds(bindApp(hostBind("/var/run/docker.sock", "/var/run/docker.sock")), "production"); err != nil && strings.Contains(err.Error(), "socket") {
		t.Errorf("--allow-docker-socket: %v", err)
	}
	if EngineSocketPath("unix:///srv/docker.sock") != "/srv/docker.sock" || EngineSocketPath("tcp://10.0.0.1:2376") != "" {
		t.Error("EngineSocketPath")
	}
}

// projectApp loads a Compose file with a bind of ./app.conf holding conf.
func projectApp(t *testing.T, conf string) *spec.App {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "conf.d", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "conf.d", "sub", "x.conf"), []byte("x"), 0o755)
	f := filepath.Join(dir, "compose.yaml")
	_ = os.WriteFile(f, []byte("name: shop\nservices:\n  web:\n    image: shop:1\n    volumes: [\"./app.conf:/etc/app.conf\", \"./conf.d:/etc/conf.d\"]\n"), 0o644)
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// A bundle sent by the CLI is kept per content hash; a deploy then
// mounts the server's copy, and one that was not sent is refused.
func TestStoreBinds_KeepsTheCopiesAReleaseMounts(t *testing.T) {
	dir := t.TempDir()
	d := bindDeployer(t, Options{BindsDir: dir})
	app := projectApp(t, "v1")
	if err := d.checkBinds(projectApp(t, "v1"), "production"); err == nil || !strings.Contains(err.Error(), "were not sent with the deploy") {
		t.Fatalf("deploy before the files were sent: %v", err)
	}
	missing := d.MissingBinds(app, "production")
	if len(missing) != 2 {
		t.Fatalf("missing %v, want both mounts' hashes", missing)
	}
	var buf bytes.Buffer
	if err := spec.WriteBindBundle(&buf, app, missing); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StoreBinds("shop", "production", &buf); err != nil {
		t.Fatal(err)
	}
	if m := d.MissingBinds(app, "production"); len(m) != 0 {
		t.Errorf("still missing after the upload: %v", m)
	}
	if err := d.checkBinds(app, "production"); err != nil {
		t.Fatal(err)
	}
	m := app.Services[0].Volumes[0]
	want := filepath.Join(dir, "shop", "production", m.Content, "data")
	if m.Source != want || !m.ReadOnly {
		t.Errorf("mount %+v, want the read-only copy %s", m, want)
	}
	if b, err := os.ReadFile(m.Source); err != nil || string(b) != "v1" {
		t.Errorf("copy holds %q %v", b, err)
	}
	sub := filepath.Join(app.Services[0].Volumes[1].Source, "sub", "x.conf")
	if st, err := os.Stat(sub); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("nested executable file: %v %v", st, err)
	}
	// The release's copy is checked as it is when it is restored.
	if err := d.checkRestoredBinds(app, "production"); err != nil {
		t.Errorf("restore: %v", err)
	}
	_ = os.RemoveAll(filepath.Dir(m.Source))
	if err := d.checkRestoredBinds(app, "production"); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("restore after the copy went: %v", err)
	}
}

// What arrives must be what was hashed, and may not write outside its
// directory.
func TestStoreBinds_RefusesForeignContent(t *testing.T) {
	dir := t.TempDir()
	d := bindDeployer(t, Options{BindsDir: dir})
	hash := strings.Repeat("a", 64)
	bundle := func(entries ...tar.Header) *bytes.Buffer {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for _, h := range entries {
			_ = tw.WriteHeader(&h)
			if h.Size > 0 {
				_, _ = tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
			}
		}
		_ = tw.Close()
		_ = zw.Close()
		return &buf
	}
	dirHdr := tar.Header{Name: hash + "/", Typeflag: tar.TypeDir, Mode: 0o755}
	for name, b := range map[string]*bytes.Buffer{
		"other content": bundle(dirHdr, tar.Header{Name: hash + "/data", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644}),
		"escape":        bundle(dirHdr, tar.Header{Name: hash + "/../../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}),
		"through link": bundle(dirHdr, tar.Header{Name: hash + "/data/", Typeflag: tar.TypeDir, Mode: 0o755},
			tar.Header{Name: hash + "/data/l", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
			tar.Header{Name: hash + "/data/l/evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}),
		"not a hash": bundle(tar.Header{Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755}),
	} {
		if _, err := d.StoreBinds("shop", "production", b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat("/tmp/evil"); err == nil {
		t.Error("a bundle wrote through a link")
	}
	if copies, _ := filepath.Glob(filepath.Join(dir, "shop", "production", "*")); len(copies) != 0 {
		t.Errorf("refused bundles left %v", copies)
	}
	if _, err := d.StoreBinds("../x", "production", bundle(dirHdr)); !errors.Is(err, ErrInvalid) {
		t.Errorf("app ../x: %v", err)
	}
}

// On a Swarm cluster a project bind is refused with what to write
// instead; a host path under a root is mounted as docker stack deploy
// mounts it.
func TestCheckBinds_ProjectBindsOnACluster(t *testing.T) {
	f := enginetest.NewFake()
	root := t.TempDir()
	d := bindDeployer(t, Options{Engine: f, Cluster: f, BindsDir: t.TempDir(), BindRoots: []string{root}})
	app := projectApp(t, "v1")
	app.Services[0].Volumes = append(app.Services[0].Volumes, hostBind(filepath.Join(root, "on-every-node"), "/shared"))
	err := d.CheckBinds(app, "production")
	if err == nil || !strings.Contains(err.Error(), "2 bind mounts") || !strings.Contains(err.Error(), "declare it as a Compose config") || strings.Contains(err.Error(), "on-every-node") {
		t.Errorf("project binds on a cluster: %v", err)
	}
}

// A host path reaches a Swarm service's tasks as docker stack deploy
// mounts it.
func TestWorkloadSpec_HostBindOnACluster(t *testing.T) {
	app := bindApp(spec.Mount{Type: "bind", Source: "/srv/media", Target: "/media", ReadOnly: true})
	w := workloadSpec(app, "production", app.Services[0], store.Release{ID: 3}, nil, nil, nil)
	if len(w.Template.Mounts) != 1 || w.Template.Mounts[0].Type != "bind" || w.Template.Mounts[0].Source != "/srv/media" || !w.Template.Mounts[0].ReadOnly {
		t.Errorf("mounts %+v", w.Template.Mounts)
	}
	if msgs := clusterRefusals(app); len(msgs) != 0 {
		t.Errorf("a host path under a root is refused on a cluster: %v", msgs)
	}
}

// Copies are pruned with the releases that mount them; one just sent,
// which no release names yet, waits for its deploy.
func TestPruneBinds_WithTheReleaseHistory(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Add(2 * time.Hour)
	d := bindDeployer(t, Options{BindsDir: dir, KeepReleases: 1, Now: func() time.Time { return now }})
	copyOf := func(c byte) string {
		p := filepath.Join(dir, "shop", "production", strings.Repeat(string(c), 64))
		if err := os.MkdirAll(filepath.Join(p, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	release := func(copyDir string) {
		app := bindApp(spec.Mount{Type: "bind", Source: filepath.Join(copyDir, "data"), Target: "/conf", Project: "conf", Content: filepath.Base(copyDir), ReadOnly: true})
		r, err := d.store.CreateRelease(store.Release{App: "shop", Env: "production", Spec: *app})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.store.Activate("shop", "production", r.ID, store.StatusSuperseded); err != nil {
			t.Fatal(err)
		}
	}
	old, live, orphan, fresh := copyOf('1'), copyOf('2'), copyOf('3'), copyOf('4')
	if err := d.store.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	release(old)
	release(live)
	_ = os.Chtimes(fresh, now, now)
	removed, err := d.pruneBinds()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(removed)
	if strings.Join(removed, " ") != old+" "+orphan {
		t.Errorf("removed %v, want the copy of the release past --keep-releases and the one no release names", removed)
	}
	for _, kept := range []string{live, fresh} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s: %v", kept, err)
		}
	}
}
