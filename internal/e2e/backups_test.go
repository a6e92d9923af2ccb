package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/testutil"
)

// staticBerth builds a statically linked berth that backups build
// their helper image from (the test binary runs the server, and is not
// berth); go build's cache makes it quick after the first test.
func staticBerth(t *testing.T) string {
	t.Helper()
	return buildBinary(t, "./cmd/berth", "berth")
}

// backupImage is the test image with the commands these tests use
// (fill, copy), under a tag of its own: other branches' tests rebuild
// berth-e2e-app:latest from their own test app.
func backupImage(t *testing.T) string {
	t.Helper()
	backupImg.once.Do(func() { backupImg.ref = enginetest.BuildTestImage(t, "berth-e2e-app:backups").Ref })
	if backupImg.ref == "" {
		t.Fatal("test image was not built")
	}
	return backupImg.ref
}

var backupImg struct {
	once sync.Once
	ref  string
}

// backupApp is volumeApp on backupImage.
func backupApp(t *testing.T, name, host string) *spec.App {
	t.Helper()
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    volumes: ["data:/data"]
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
volumes:
  data: {}
`, name, backupImage(t), host))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// readsEventually polls path on host until it answers want.
func readsEventually(t *testing.T, s *server, host, path, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := get(t, s.addrs.HTTP, host, path)
		if code == 200 && body == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%s reads %d %q, want %q", host, path, code, body, want)
		}
		time.Sleep(100 * time.Millisecond) // a poll with a deadline
	}
}

func (s *server) deployEnv(t *testing.T, app *spec.App, env string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := s.client.Deploy(ctx, app, env, dto.DeployOptions{}, func(p dto.Progress) {
		t.Logf("deploy %s/%s: %s", app.Name, env, p.Message)
	}); err != nil {
		t.Fatalf("deploy %s/%s: %v", app.Name, env, err)
	}
}

func (s *server) mustBerth(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errb := s.berth(t, args...)
	t.Logf("berth %s:\n%s%s", strings.Join(args, " "), out, errb)
	if code != 0 {
		t.Fatalf("berth %s exited %d: %s", strings.Join(args, " "), code, errb)
	}
	return out
}

func (s *server) backupsOf(t *testing.T, app, env string) []dto.Backup {
	t.Helper()
	out := s.mustBerth(t, "backups", app, "--env", env, "--output", "json")
	var bs []dto.Backup
	if err := json.Unmarshal([]byte(out), &bs); err != nil {
		t.Fatalf("berth backups --output json: %v\n%s", err, out)
	}
	return bs
}

// A stateful service writes data; a backup; more writes; the backup
// restored into staging shows the first data (production untouched);
// restored in place, it brings it back; the state it replaced was
// backed up first.
func TestBackups_RestoreToStagingThenInPlace(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) { c.HelperBinary = bin })
	name, host := newApp(t, eng)
	staging := "staging-" + host
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data", name+"-staging-data")
	s.deployEnv(t, backupApp(t, name, host), spec.DefaultEnv)
	readsEventually(t, s, host, "/write?path=/data/notes.txt&data=first", "")
	readsEventually(t, s, host, "/write?path=/data/deep.txt&data=nested", "")

	out := s.mustBerth(t, "backup", name)
	if !strings.Contains(out, "backup 1: volume data") || !strings.Contains(out, "sha256") {
		t.Fatalf("backup output lacks its progress:\n%s", out)
	}
	bs := s.backupsOf(t, name, spec.DefaultEnv)
	if len(bs) != 1 || bs[0].Status != "ok" || bs[0].Kind != "snapshot" || bs[0].Size <= 0 || len(bs[0].SHA256) != 64 ||
		!strings.HasPrefix(bs[0].Key, name+"/production/"+name+"-production-data-r1-") || !strings.HasSuffix(bs[0].Key, "-1.tar.gz") {
		t.Fatalf("backups: %+v", bs)
	}
	text := s.mustBerth(t, "backups", name)
	if !strings.Contains(text, "AGE") || !strings.Contains(text, "snapshot") {
		t.Fatalf("berth backups:\n%s", text)
	}

	readsEventually(t, s, host, "/write?path=/data/notes.txt&data=second", "")
	readsEventually(t, s, host, "/write?path=/data/later.txt&data=after-the-backup", "")

	// Into staging: deployed (empty), then restored.
	s.deployEnv(t, backupApp(t, name, staging), "staging")
	if code, _ := get(t, s.addrs.HTTP, staging, "/read?path=/data/notes.txt"); code == 200 {
		t.Fatal("staging reads notes.txt before the restore")
	}
	if code, _, errb := s.berth(t, "restore", name, "1", "--to-env", "staging"); code == 0 || !strings.Contains(errb, "--yes") {
		t.Fatalf("restore without a terminal or --yes: exit %d, %s", code, errb)
	}
	out = s.mustBerth(t, "restore", name, "1", "--to-env", "staging", "--yes")
	for _, want := range []string{"staging backup 1", "stopping web", "started web again", "restored into " + name + "-staging-data"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, out)
		}
	}
	readsEventually(t, s, staging, "/read?path=/data/notes.txt", "first")
	readsEventually(t, s, staging, "/read?path=/data/deep.txt", "nested")
	if code, _ := get(t, s.addrs.HTTP, staging, "/read?path=/data/later.txt"); code == 200 {
		t.Error("staging has a file written after the backup")
	}
	readsEventually(t, s, host, "/read?path=/data/notes.txt", "second") // production untouched
	sb := s.backupsOf(t, name, "staging")
	if len(sb) != 1 || sb[0].Trigger != "restore" || sb[0].Status != "ok" {
		t.Fatalf("staging's state before the restore was not backed up first: %+v", sb)
	}

	// In place.
	out = s.mustBerth(t, "restore", name, "latest", "--yes")
	if !strings.Contains(out, "backup 1") || !strings.Contains(out, "to undo: berth restore "+name+" 2") {
		t.Errorf("in-place restore output:\n%s", out)
	}
	readsEventually(t, s, host, "/read?path=/data/notes.txt", "first")
	if code, _ := get(t, s.addrs.HTTP, host, "/read?path=/data/later.txt"); code == 200 {
		t.Error("production still has the file written after the backup")
	}
	pb := s.backupsOf(t, name, spec.DefaultEnv)
	if len(pb) != 2 || pb[0].ID != 2 || pb[0].Trigger != "restore" {
		t.Fatalf("production's state before the restore: %+v", pb)
	}
	// The undo brings the later writes back.
	s.mustBerth(t, "restore", name, "2", "--yes")
	readsEventually(t, s, host, "/read?path=/data/later.txt", "after-the-backup")
	readsEventually(t, s, host, "/read?path=/data/notes.txt", "second")
	waitNoHelpers(t, eng, name)
}

// waitNoHelpers checks that no helper container or staging volume of
// app is left.
func waitNoHelpers(t *testing.T, eng interface {
	ListContainers(context.Context, map[string]string) ([]engine.Container, error)
	ListVolumes(context.Context, map[string]string) ([]engine.Volume, error)
}, app string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, "helper containers and staging volumes of "+app+" removed", func() bool {
		cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: app, "berth.backup.helper": "true"})
		if err != nil || len(cs) > 0 {
			return false
		}
		vs, err := eng.ListVolumes(context.Background(), map[string]string{engine.LabelApp: app})
		if err != nil {
			return false
		}
		for _, v := range vs {
			if v.Labels["berth.restore.of"] != "" {
				return false
			}
		}
		return true
	})
}

// errKilled is the staging stream dying half-way.
var errKilled = errors.New("killed half-way (test)")

type cutReader struct {
	r     io.Reader
	left  int
	armed *atomic.Bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	if !c.armed.Load() {
		return c.r.Read(p)
	}
	if c.left <= 0 {
		return 0, errKilled
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= n
	return n, err
}

// A restore whose staging dies half-way leaves the volume as it was,
// with its service never stopped, and nothing of the staging behind.
func TestBackups_RestoreKilledHalfWayLeavesTheVolume(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	armed := new(atomic.Bool)
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) {
		c.HelperBinary = bin
		c.BackupStageHook = func(r io.Reader) io.Reader { return &cutReader{r: r, left: 3000, armed: armed} }
	})
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	s.deployEnv(t, backupApp(t, name, host), spec.DefaultEnv)
	readsEventually(t, s, host, "/write?path=/data/a.txt&data=backed-up", "")
	s.mustBerth(t, "run", name, "web", "--", "fill", "/data/big.txt", "65536")
	s.mustBerth(t, "backup", name)
	readsEventually(t, s, host, "/write?path=/data/a.txt&data=current", "")
	before, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelService: "web"})
	if err != nil || len(before) == 0 {
		t.Fatalf("containers: %v %v", before, err)
	}

	armed.Store(true)
	code, out, errb := s.berth(t, "restore", name, "1", "--yes")
	t.Logf("restore:\n%s%s", out, errb)
	if code == 0 || !strings.Contains(errb, "staging failed, so volume "+name+"-production-data was not touched") {
		t.Fatalf("a restore killed half-way: exit %d, %s", code, errb)
	}
	if strings.Contains(out, "stopping web") {
		t.Error("the service was stopped for a restore that never staged")
	}
	readsEventually(t, s, host, "/read?path=/data/a.txt", "current")
	if code, body := get(t, s.addrs.HTTP, host, "/read?path=/data/big.txt"); code != 200 || len(body) != 64<<10 {
		t.Errorf("big.txt after the failed restore: %d, %d bytes", code, len(body))
	}
	after, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelService: "web"})
	for _, c := range after {
		for _, b := range before {
			if c.ID == b.ID && b.Running() && !c.StartedAt.Equal(b.StartedAt) {
				t.Errorf("container %s restarted", c.Name)
			}
		}
	}
	waitNoHelpers(t, eng, name)

	armed.Store(false) // the same backup restores whole
	s.mustBerth(t, "restore", name, "1", "--yes")
	readsEventually(t, s, host, "/read?path=/data/a.txt", "backed-up")
}

// A service's dump hook backs its volume up: run in its running
// container, its file copied out; its restore command loads it back,
// the state it replaced dumped first. (The test image's copy command
// stands in for a database's dump and load.)
func TestBackups_DumpHook(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) { c.HelperBinary = bin })
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  db:
    image: %s
    volumes: ["data:/data"]
    x-berth:
      port: 8080
      hosts: [%s]
      healthcheck: { path: /up, interval: 200ms }
      backup:
        command: ["/testapp", "copy", "/data/db", "/db.dump"]
        file: /db.dump
        restore: ["/testapp", "copy", "/db.dump", "/data/db"]
volumes:
  data: {}
`, name, backupImage(t), host))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	s.deployEnv(t, app, spec.DefaultEnv)
	readsEventually(t, s, host, "/write?path=/data/db&data=rows-1", "")
	out := s.mustBerth(t, "backup", name)
	if !strings.Contains(out, "by the dump hook of db") {
		t.Fatalf("backup output:\n%s", out)
	}
	bs := s.backupsOf(t, name, spec.DefaultEnv)
	if len(bs) != 1 || bs[0].Kind != "dump" || bs[0].Service != "db" || bs[0].Status != "ok" || !strings.HasSuffix(bs[0].Key, ".dump.gz") {
		t.Fatalf("backups: %+v", bs)
	}
	readsEventually(t, s, host, "/write?path=/data/db&data=rows-2", "")
	out = s.mustBerth(t, "restore", name, "1", "--yes")
	if !strings.Contains(out, "loading the dump in") || strings.Contains(out, "stopping db") {
		t.Errorf("restore output:\n%s", out)
	}
	readsEventually(t, s, host, "/read?path=/data/db", "rows-1")
	bs = s.backupsOf(t, name, spec.DefaultEnv)
	if len(bs) != 2 || bs[0].Trigger != "restore" || bs[0].Kind != "dump" {
		t.Fatalf("the state before was not dumped first: %+v", bs)
	}
	s.mustBerth(t, "restore", name, "2", "--yes")
	readsEventually(t, s, host, "/read?path=/data/db", "rows-2")

	code, _, errb := s.berth(t, "backup", name, "--volume", "nosuch")
	if code == 0 || !strings.Contains(errb, `no named volume "nosuch"`) {
		t.Errorf("backup of a missing volume: %d %s", code, errb)
	}
}

// tarOf is a tar stream of files (name → content).
func tarOfFiles(t *testing.T, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// berth killed while a restore copied the staged backup into the volume
// (the volume half copied, its service stopped): the next berth
// finishes the copy from the staged volume and starts the service.
func TestBackups_RestoreKilledDuringTheCopyIsFinishedAtStart(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	dir := t.TempDir()
	tune := func(c *daemon.Config) { c.HelperBinary = bin }
	s := startServerWith(t, dir, tune)
	name, host := newApp(t, eng)
	vol := name + "-production-data"
	staged := vol + "-restore-e2e"
	s.removeVolumesAtEnd(t, eng, name, vol)
	s.deployEnv(t, backupApp(t, name, host), spec.DefaultEnv)
	readsEventually(t, s, host, "/write?path=/data/notes.txt&data=current", "")
	web, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelService: "web"})
	if err != nil || len(web) != 1 {
		t.Fatalf("web containers: %v %v", web, err)
	}
	s.stop()

	// What berth left when it was killed mid-copy: the backup staged,
	// the volume half replaced, the service stopped, the journal.
	ctx := context.Background()
	if _, err := eng.EnsureVolume(ctx, engine.VolumeSpec{Name: staged, Labels: map[string]string{engine.LabelApp: name, "berth.restore.of": vol}}); err != nil {
		t.Fatal(err)
	}
	put := func(volume string, files map[string]string) {
		c, err := eng.CreateContainer(ctx, engine.ContainerSpec{Name: name + "-put-" + volume[len(volume)-6:], Image: backupImage(t), NoStart: true,
			Labels: map[string]string{engine.LabelApp: name}, Mounts: []engine.Mount{{Type: "volume", Source: volume, Target: "/v"}}})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.RemoveContainer(ctx, c.ID)
		if err := eng.CopyTo(ctx, c.ID, "/v", tarOfFiles(t, files)); err != nil {
			t.Fatal(err)
		}
	}
	put(staged, map[string]string{"notes.txt": "restored", "more.txt": "also restored"})
	put(vol, map[string]string{"half.txt": "a half copy"})
	if err := eng.StopContainer(ctx, web[0].ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = st.SetRestoring(store.RestoreJournal{App: name, Env: spec.DefaultEnv, BackupEnv: spec.DefaultEnv, Backup: 1, Volume: vol, Staged: staged,
		Phase: store.RestoreCopying, Stopped: []string{web[0].ID}, StartedAt: time.Now()})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = startServerWith(t, dir, tune)
	readsEventually(t, s, host, "/read?path=/data/notes.txt", "restored")
	readsEventually(t, s, host, "/read?path=/data/more.txt", "also restored")
	if code, _ := get(t, s.addrs.HTTP, host, "/read?path=/data/half.txt"); code == 200 {
		t.Error("the half copy is still in the volume")
	}
	if c, err := eng.InspectContainer(ctx, web[0].ID); err != nil || !c.Running() {
		t.Errorf("the stopped container was not started again: %+v %v", c.State, err)
	}
	if _, err := eng.InspectVolume(ctx, staged); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("staged volume left: %v", err)
	}
	evs, err := s.client.Events(ctx, name, spec.DefaultEnv, 20)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || strings.Contains(e.Message, "it finished the restore when it started again")
	}
	if !found {
		t.Errorf("no event says the restore was finished: %+v", evs)
	}
}

// sqliteImage is the test image with Debian's sqlite3 (and the shared
// libraries ldd names) beside the test app: a database that runs here,
// for a real dump hook.
func sqliteImage(t *testing.T, eng *docker.Backend) string {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("sqlite3 is not installed (apt-get install sqlite3; scripts/ensure-test-deps does): %v", err)
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	files := map[string]string{"usr/bin/sqlite3": bin}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			files[strings.TrimPrefix(f[2], "/")] = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			files[strings.TrimPrefix(f[0], "/")] = f[0]
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	df := "FROM " + backupImage(t) + "\nCOPY root/ /\n"
	add := func(name string, mode int64, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("Dockerfile", 0o644, []byte(df))
	for name, src := range files {
		data, err := os.ReadFile(src) // through symlinks: the library itself, under the name the loader asks for
		if err != nil {
			t.Fatal(err)
		}
		add("root/"+name, 0o755, data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tag := "berth-e2e-sqlite:backups"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	resp, err := eng.Client().ImageBuild(ctx, &buf, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true})
	if err != nil {
		t.Fatalf("build %s: %v", tag, err)
	}
	log, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := eng.Client().ImageInspect(ctx, tag); err != nil {
		t.Fatalf("build %s: %v\n%s", tag, err, log)
	}
	return tag
}

// sql runs statement with sqlite3 in container id and returns its
// output.
func sql(t *testing.T, eng *docker.Backend, id, statement string) string {
	t.Helper()
	var lines []string
	code, err := eng.Exec(context.Background(), id, []string{"/usr/bin/sqlite3", "/data/notes.db", statement}, func(l string) { lines = append(lines, l) })
	if err != nil || code != 0 {
		t.Fatalf("sqlite3 %q: exit %d, %v: %s", statement, code, err, strings.Join(lines, "\n"))
	}
	return strings.Join(lines, "\n")
}

// A database's dump hook: SQLite's own .backup in the service's running
// container, and .restore to load it back.
func TestBackups_SQLiteDumpHook(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	img := sqliteImage(t, eng)
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) { c.HelperBinary = bin })
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  db:
    image: %s
    volumes: ["data:/data"]
    x-berth:
      port: 8080
      hosts: [%s]
      healthcheck: { path: /up, interval: 200ms }
      backup:
        command: ["/usr/bin/sqlite3", "/data/notes.db", ".backup /notes.dump"]
        file: /notes.dump
        restore: ["/usr/bin/sqlite3", "/data/notes.db", ".restore /notes.dump"]
volumes:
  data: {}
`, name, img, host))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	s.deployEnv(t, app, spec.DefaultEnv)
	cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelService: "db"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("db containers: %v %v", cs, err)
	}
	id := cs[0].ID
	sql(t, eng, id, "create table notes(body text); insert into notes values ('first'), ('second');")
	out := s.mustBerth(t, "backup", name)
	if !strings.Contains(out, "by the dump hook of db: /usr/bin/sqlite3") {
		t.Fatalf("backup output:\n%s", out)
	}
	sql(t, eng, id, "insert into notes values ('after the backup'); delete from notes where body = 'first';")
	s.mustBerth(t, "restore", name, "1", "--yes")
	if got := sql(t, eng, id, "select body from notes order by rowid;"); got != "first\nsecond" {
		t.Fatalf("after the restore the table holds %q, want first, second", got)
	}
	// The state the restore replaced was dumped first, and loads back.
	s.mustBerth(t, "restore", name, "2", "--yes")
	if got := sql(t, eng, id, "select body from notes order by rowid;"); got != "second\nafter the backup" {
		t.Fatalf("after the undo the table holds %q", got)
	}
}

// Backups to an S3-compatible bucket: gofakes3 (the S3 REST API over
// HTTP, in memory) on loopback, reached by the server with minio-go as
// any S3 endpoint is. The file and its checksum are objects under the
// destination's prefix, not left on the server; a restore downloads
// and checks it.
func TestBackups_S3Destination(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	mem := s3mem.New()
	if err := mem.CreateBucket("backups"); err != nil {
		t.Fatal(err)
	}
	s3 := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(s3.Close)
	dir := t.TempDir()
	s := startServerWith(t, dir, func(c *daemon.Config) { c.HelperBinary = bin })
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	ctx := context.Background()
	endpoint := strings.TrimPrefix(s3.URL, "http://")
	if _, err := s.client.AddBackupDestination(ctx, dto.BackupDestinationRequest{BackupDestination: dto.BackupDestination{Name: "offsite",
		Endpoint: endpoint, Insecure: true, Bucket: "backups", Prefix: "berth", AccessKey: "backup-key"}, SecretKey: "s3cr3t-backup-secret"}); err != nil {
		t.Fatal(err)
	}
	if out := s.mustBerth(t, "backup-destination", "list"); !strings.Contains(out, "offsite") || strings.Contains(out, "s3cr3t") {
		t.Fatalf("backup-destination list:\n%s", out)
	}
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    volumes: ["data:/data"]
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
volumes:
  data: {}
x-berth:
  backups: { destination: "s3:offsite", keep: { last: 5 } }
`, name, backupImage(t), host))
	app, err := spec.Load(ctx, spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	s.deployEnv(t, app, spec.DefaultEnv)
	readsEventually(t, s, host, "/write?path=/data/notes.txt&data=in-the-bucket", "")
	out := s.mustBerth(t, "backup", name)
	if !strings.Contains(out, "uploading to s3:offsite") {
		t.Fatalf("backup output:\n%s", out)
	}
	bs := s.backupsOf(t, name, spec.DefaultEnv)
	if len(bs) != 1 || bs[0].Destination != "s3:offsite" || bs[0].Status != "ok" {
		t.Fatalf("backups: %+v", bs)
	}
	for _, key := range []string{bs[0].Key, bs[0].Key + ".sha256"} {
		obj, err := mem.HeadObject("backups", "berth/"+key)
		if err != nil {
			t.Fatalf("object berth/%s is not in the bucket: %v", key, err)
		}
		if key == bs[0].Key && obj.Size != bs[0].Size {
			t.Errorf("object size %d, recorded %d", obj.Size, bs[0].Size)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "backups", filepath.FromSlash(bs[0].Key))); !os.IsNotExist(err) {
		t.Errorf("the backup's file stayed on the server: %v", err)
	}
	readsEventually(t, s, host, "/write?path=/data/notes.txt&data=later", "")
	s.mustBerth(t, "restore", name, "1", "--yes")
	readsEventually(t, s, host, "/read?path=/data/notes.txt", "in-the-bucket")
	if _, err := os.Stat(filepath.Join(dir, "backups", filepath.FromSlash(bs[0].Key))); !os.IsNotExist(err) {
		t.Errorf("the download stayed on the server: %v", err)
	}
}

// readFile reads one file out of container id.
func readFile(t *testing.T, eng *docker.Backend, id, path string) string {
	t.Helper()
	rc, err := eng.CopyFrom(context.Background(), id, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A stateful service's one container keeps running across releases,
// still labelled with the release that started it: its dump hook runs
// in it after a later deploy, and the restore loads into it.
func TestBackups_StatefulServiceAfterALaterDeploy(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) { c.HelperBinary = bin })
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	load := func(version string) *spec.App {
		p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: %s }
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
  db:
    image: %s
    volumes: ["data:/data"]
    x-berth:
      stateful: true
      backup:
        command: ["/testapp", "copy", "/data/db", "/db.dump"]
        file: /db.dump
        restore: ["/testapp", "copy", "/db.dump", "/data/db"]
volumes:
  data: {}
`, name, backupImage(t), version, host, backupImage(t)))
		app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	s.deployEnv(t, load("v1"), spec.DefaultEnv)
	s.deployEnv(t, load("v2"), spec.DefaultEnv) // release 2; db's container stays release 1's
	db := dbContainers(t, eng, name)
	if len(db) != 1 || db[0].Labels[engine.LabelRelease] != "1" {
		t.Fatalf("db containers: %+v", db)
	}
	ctx := context.Background()
	if err := eng.CopyTo(ctx, db[0].ID, "/data", tarOfFiles(t, map[string]string{"db": "rows of release 1"})); err != nil {
		t.Fatal(err)
	}
	s.mustBerth(t, "backup", name)
	bs := s.backupsOf(t, name, spec.DefaultEnv)
	if len(bs) != 1 || bs[0].Status != "ok" || bs[0].Release != 2 {
		t.Fatalf("backups: %+v", bs)
	}
	if err := eng.CopyTo(ctx, db[0].ID, "/data", tarOfFiles(t, map[string]string{"db": "later rows"})); err != nil {
		t.Fatal(err)
	}
	s.mustBerth(t, "restore", name, "1", "--yes")
	if got := readFile(t, eng, db[0].ID, "/data/db"); got != "rows of release 1" {
		t.Fatalf("after the restore the db holds %q", got)
	}
}

// x-berth.backup.pause: the service's containers are paused for the
// snapshot, said so, and running again after it.
func TestBackups_SnapshotPausesTheService(t *testing.T) {
	eng := requireDocker(t)
	bin := staticBerth(t)
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) { c.HelperBinary = bin })
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    volumes: ["data:/data"]
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms }, backup: { pause: true } }
volumes:
  data: {}
`, name, backupImage(t), host))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	s.deployEnv(t, app, spec.DefaultEnv)
	readsEventually(t, s, host, "/write?path=/data/a.txt&data=paused-copy", "")
	out := s.mustBerth(t, "backup", name)
	if !strings.Contains(out, "paused web (1 container(s)) for the copy") || !strings.Contains(out, "resumed web") {
		t.Fatalf("backup output:\n%s", out)
	}
	bs := s.backupsOf(t, name, spec.DefaultEnv)
	if len(bs) != 1 || !bs[0].Paused || bs[0].Service != "web" || bs[0].Status != "ok" {
		t.Fatalf("backups: %+v", bs)
	}
	cs, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelService: "web"})
	for _, c := range cs {
		if c.State != engine.StateRunning {
			t.Errorf("%s is %s after the backup", c.Name, c.State)
		}
	}
	readsEventually(t, s, host, "/read?path=/data/a.txt", "paused-copy")
}
