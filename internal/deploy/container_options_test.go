package deploy

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

func loadCompose(t *testing.T, body string) *spec.App {
	t.Helper()
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// The per-container keys reach the planned containers; volumes_from
// names the other service's container of the same release; the pids
// limit and memory reservation of deploy.resources apply on one host.
func TestMakePlan_CarriesContainerKeys(t *testing.T) {
	t.Parallel()
	app := loadCompose(t, `name: shop
services:
  data:
    image: data:1
    volumes: ["/shared"]
    deploy: { resources: { limits: { pids: 50 }, reservations: { memory: 16m } } }
  web:
    image: web:1
    cap_add: [NET_ADMIN]
    tmpfs: ["/run:size=1m", /tmp]
    logging: { options: { max-size: 2m } }
    volumes_from: ["data:ro", "container:legacy"]
    restart: "no"
`)
	p := MakePlan(Desired{App: app, Env: "production", Release: 3, Images: map[string]string{}}, nil)
	if len(p.Conflicts) > 0 {
		t.Fatal(p.Conflicts)
	}
	specs := map[string]engine.ContainerSpec{}
	for _, pl := range p.Start {
		specs[pl.Service] = pl.Spec
	}
	data, web := specs["data"], specs["web"]
	if o := data.Options; o == nil || o.PidsLimit != 50 || o.MemoryReservation != 16<<20 || o.Log != nil {
		t.Errorf("data: %+v", o)
	}
	o := web.Options
	if o == nil {
		t.Fatal("web has no options")
	}
	if !slices.Equal(o.CapAdd, []string{"NET_ADMIN"}) || o.Tmpfs["/run"] != "size=1m" || o.Tmpfs["/tmp"] != "" || len(o.Tmpfs) != 2 {
		t.Errorf("web: %+v", o)
	}
	if o.Log == nil || o.Log.Driver != "json-file" || o.Log.Options["max-size"] != "2m" {
		t.Errorf("logging without a driver keeps berth's driver with the file's options: %+v", o.Log)
	}
	if want := []string{data.Name + ":ro", "legacy"}; !slices.Equal(o.VolumesFrom, want) {
		t.Errorf("volumes_from: %q, want %q", o.VolumesFrom, want)
	}
	for _, svc := range app.Services {
		want := map[string]string{"data": "unless-stopped", "web": "no"}[svc.Name]
		if got := restartPolicyOf(app, engine.Container{Labels: map[string]string{engine.LabelService: svc.Name}}); got != want {
			t.Errorf("%s: restart policy %q, want %q", svc.Name, got, want)
		}
	}
	// A service without any of the keys has no options (and the stored
	// form of its definition is unchanged).
	plain := loadCompose(t, "name: shop\nservices:\n  web: { image: web:1 }\n")
	if p := MakePlan(Desired{App: plain, Env: "production", Release: 1}, nil); p.Start[0].Spec.Options != nil || plain.Services[0].Container != nil {
		t.Errorf("a plain service got options: %+v", p.Start[0].Spec.Options)
	}
}

func TestDeployer_PullPolicy(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:local", "sha256:old")
	f.AddRemoteImage("shop:local", "sha256:new")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	tr := newTracker(d.now, nil)
	ctx := context.Background()

	never := loadCompose(t, "name: shop\nservices:\n  web: { image: \"shop:missing\", pull_policy: never }\n")
	f.AddRemoteImage("shop:missing", "")
	if _, err := d.resolveImageByPolicy(ctx, never, "shop:missing", tr); err == nil || !strings.Contains(err.Error(), "pull_policy: never forbids pulling it") {
		t.Errorf("never, missing: %v", err)
	}
	if _, err := f.InspectImage(ctx, "shop:missing"); err == nil {
		t.Error("pull_policy: never pulled the image")
	}
	missing := loadCompose(t, "name: shop\nservices:\n  web: { image: \"shop:local\" }\n")
	if img, err := d.resolveImageByPolicy(ctx, missing, "shop:local", tr); err != nil || img.ID != "sha256:old" {
		t.Errorf("missing, present: %+v %v (want the host's image, no pull)", img, err)
	}
	always := loadCompose(t, "name: shop\nservices:\n  web: { image: \"shop:local\", pull_policy: always }\n")
	if img, err := d.resolveImageByPolicy(ctx, always, "shop:local", tr); err != nil || img.ID != "sha256:new" {
		t.Errorf("always, present: %+v %v (want the registry's image)", img, err)
	}
}

func TestOlderAPI(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want bool
	}{{"1.41", "1.43", true}, {"1.43", "1.43", false}, {"1.45", "1.43", false}, {"1.9", "1.10", true}, {"2.0", "1.45", false}} {
		if got := olderAPI(c.a, c.b); got != c.want {
			t.Errorf("olderAPI(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// One-off containers (berth run, release commands) mount the volumes of
// the live release's container of a volumes_from service.
func TestDeployer_OneOffVolumesFrom(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("data:1", "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	ctx := context.Background()
	app := loadCompose(t, "name: shop\nservices:\n  data: { image: \"data:1\" }\n  web: { image: \"data:1\", volumes_from: [\"data:ro\"], x-berth: { release_command: [migrate] } }\n")
	web, _ := app.Service("web")
	x := &execution{app: app, env: "production"}
	cs := engine.ContainerSpec{Name: "shop-production-web-release-x"}
	err := d.releaseVolumesFrom(ctx, x, *web, &cs)
	if err == nil || !strings.Contains(err.Error(), `no container of service "data" runs`) || !strings.Contains(err.Error(), "release command runs before") {
		t.Fatalf("no live data container: %v", err)
	}
	c, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "shop-production-data-r1-1", Image: "data:1", Labels: map[string]string{
		engine.LabelApp: "shop", engine.LabelEnv: "production", engine.LabelService: "data", engine.LabelRelease: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	cs = engine.ContainerSpec{Name: "run", Options: containerOptions(*web)}
	if err := d.resolveOneOffVolumesFrom(ctx, "shop", "production", 1, &cs); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cs.Options.VolumesFrom, []string{c.Name + ":ro"}) {
		t.Errorf("volumes_from of a one-off: %q", cs.Options.VolumesFrom)
	}
}

// A live release's containers get their service's Compose restart:
// policy; a service without one gets berth's unless-stopped.
func TestDeployer_RestartPolicyOnceLive(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("job:1", "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	app := loadCompose(t, "name: shop\nservices:\n  a: { image: \"job:1\", restart: \"on-failure:2\" }\n  b: { image: \"job:1\" }\n")
	if _, err := d.Deploy(context.Background(), app, "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := f.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop"})
	if err != nil || len(cs) != 2 {
		t.Fatalf("containers: %+v %v", cs, err)
	}
	for _, c := range cs {
		want := map[string]string{"a": "on-failure:2", "b": "unless-stopped"}[c.Labels[engine.LabelService]]
		if got := f.RestartPolicy(c.ID); got != want {
			t.Errorf("%s: restart policy %q, want %q", c.Name, got, want)
		}
	}
}

// Adding restart: or pull_policy: to a stateful service does not change
// its definition hash (they are applied in place), other keys do.
func TestStatefulHash_RestartAndPullPolicyKeepTheHash(t *testing.T) {
	t.Parallel()
	load := func(extra string) (*spec.App, spec.Service) {
		app := loadCompose(t, "name: shop\nservices:\n  db:\n    image: db:1\n    x-berth: { stateful: true }\n"+extra)
		return app, app.Services[0]
	}
	app, plain := load("")
	base := statefulHash(app, plain, "sha256:1")
	app, svc := load("    restart: always\n    pull_policy: missing\n")
	if got := statefulHash(app, svc, "sha256:1"); got != base {
		t.Errorf("restart: and pull_policy: changed the hash: %s, was %s", got, base)
	}
	app, svc = load("    restart: always\n    shm_size: 256m\n")
	if got := statefulHash(app, svc, "sha256:1"); got == base {
		t.Error("shm_size did not change the hash")
	}
}

// A kept stateful container takes a changed restart: in place.
func TestDeployer_KeptStatefulContainerTakesRestartInPlace(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("db:1", "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	ctx := context.Background()
	for i, restart := range []string{"", "    restart: always\n"} {
		app := loadCompose(t, "name: shop\nservices:\n  db:\n    image: \"db:1\"\n    x-berth: { stateful: true }\n"+restart)
		if _, err := d.Deploy(ctx, app, "production", DeployOptions{}, nil); err != nil {
			t.Fatalf("deploy %d: %v", i+1, err)
		}
	}
	cs, err := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("the stateful container was not kept: %+v %v", cs, err)
	}
	if got := f.RestartPolicy(cs[0].ID); got != "always" {
		t.Errorf("restart policy of the kept container: %q, want always", got)
	}
}

// A canary starts its routed services only: their volumes_from of a
// service it does not start names the live release's container.
func TestDeployer_CanaryVolumesFromTheLiveRelease(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("app:1", "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	ctx := context.Background()
	app := loadCompose(t, `name: shop
services:
  data: { image: "app:1", volumes: ["/shared"] }
  web: { image: "app:1", volumes_from: ["data:ro"], x-berth: { port: 8080, hosts: [shop.localhost] } }
`)
	live, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "shop-production-data-r1-1", Image: "app:1", Labels: map[string]string{
		engine.LabelApp: "shop", engine.LabelEnv: "production", engine.LabelService: "data", engine.LabelRelease: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	plan := MakePlan(Desired{App: app, Env: "production", Release: 2, Suffix: "c"}, nil)
	x := &execution{app: app, env: "production", canary: 10, dep: store.Deployment{FromReleaseID: 1}}
	if err := canaryPlan(x, &plan); err != nil {
		t.Fatal(err)
	}
	if err := d.canaryVolumesFrom(ctx, x, &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Start) != 1 || !slices.Equal(plan.Start[0].Spec.Options.VolumesFrom, []string{live.Name + ":ro"}) {
		t.Fatalf("canary start: %+v", plan.Start)
	}
}

// The x-berth.test container gets the service's settings but for
// volumes_from a service, which a note names.
func TestTestContainerOptions(t *testing.T) {
	t.Parallel()
	o, notes := TestContainerOptions(&spec.ContainerOptions{ReadOnly: true, Tmpfs: []string{"/run"}, VolumesFrom: []string{"data:ro", "container:legacy"}})
	if o == nil || !o.ReadOnly || o.Tmpfs["/run"] != "" || len(o.Tmpfs) != 1 || !slices.Equal(o.VolumesFrom, []string{"legacy"}) {
		t.Errorf("options: %+v", o)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "volumes_from data:ro is not mounted") {
		t.Errorf("notes: %q", notes)
	}
	if o, notes := TestContainerOptions(nil); o != nil || notes != nil {
		t.Errorf("no settings: %+v %q", o, notes)
	}
}

// berth killed at the commit point (the store says the release is live,
// its containers still have the "no" they were created with) must not
// leave them so for good: converge after the restart gives them their
// policy.
func TestConverge_RepairsRestartPolicyLeftAtTheCommitPoint(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("job:1", "")
	f.AddImage("job:2", "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := newTestStore(t)
	d := New(Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	ctx := context.Background()
	app := loadCompose(t, "name: shop\nservices:\n  a: { image: \"job:1\", restart: \"on-failure:2\" }\n  b: { image: \"job:1\" }\n")
	if _, err := d.Deploy(ctx, app, "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"})
	if err != nil || len(cs) != 2 {
		t.Fatalf("containers: %+v %v", cs, err)
	}
	for _, c := range cs {
		if err := f.SetRestartPolicy(ctx, c.ID, "no"); err != nil {
			t.Fatal(err)
		}
	}
	// The next process: Recover, then converge.
	d2 := New(Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	if err := d2.Recover(); err != nil {
		t.Fatal(err)
	}
	if err := d2.Converge(ctx, "shop", "production"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		want := map[string]string{"a": "on-failure:2", "b": "unless-stopped"}[c.Labels[engine.LabelService]]
		if got := f.RestartPolicy(c.ID); got != want {
			t.Errorf("%s after converge: restart policy %q, want %q", c.Name, got, want)
		}
	}
	if got, _ := f.InspectContainer(ctx, cs[0].ID); got.RestartPolicy != f.RestartPolicy(cs[0].ID) {
		t.Errorf("the fake reports policy %q, holds %q", got.RestartPolicy, f.RestartPolicy(cs[0].ID))
	}
}
