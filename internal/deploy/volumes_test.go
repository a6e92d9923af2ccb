package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// volumesApp mounts a scoped volume, an external one by its key, an
// external one by another name, one with a fixed name and options, and
// an anonymous one (the container's own: no source, not in the plan's
// volumes).
func volumesApp() *spec.App {
	a := testApp()
	a.Volumes = []spec.Volume{
		{Key: "cache", Name: "shop-cache", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}, Labels: map[string]string{"team": "shop"}},
		{Key: "legacy", Name: "old-uploads", External: true},
		{Key: "media", Name: "media", External: true},
		{Key: "uploads"},
	}
	a.Services[0].Volumes = append(a.Services[0].Volumes,
		spec.Mount{Type: "volume", Source: "media", Target: "/srv/media", ReadOnly: true},
		spec.Mount{Type: "volume", Source: "legacy", Target: "/srv/legacy"})
	a.Services[1].Volumes = []spec.Mount{{Type: "volume", Source: "cache", Target: "/cache"}, {Type: "volume", Target: "/scratch"}}
	for i := range a.Services {
		a.Services[i].Healthcheck = spec.Healthcheck{Path: "/", Interval: spec.Duration(time.Second), Timeout: spec.Duration(time.Second), HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Minute)}
	}
	return a
}

func TestMakePlan_VolumeNames(t *testing.T) {
	p := MakePlan(Desired{App: volumesApp(), Env: "staging", Release: 1}, nil)
	var sources []string
	for _, pl := range p.Start {
		for _, m := range pl.Spec.Mounts {
			if m.Type == "volume" {
				sources = append(sources, pl.Service+":"+m.Source)
			}
		}
	}
	want := "web:shop-staging-uploads web:media web:old-uploads web:shop-staging-uploads web:media web:old-uploads worker:shop-cache worker:"
	if got := strings.Join(sources, " "); got != want {
		t.Errorf("mount sources\n got %s\nwant %s", got, want)
	}
	keys := map[string]string{}
	for name, def := range p.Volumes {
		keys[name] = def.Key
	}
	if want := map[string]string{"shop-staging-uploads": "uploads", "media": "media", "old-uploads": "legacy", "shop-cache": "cache"}; !maps.Equal(keys, want) {
		t.Errorf("plan volumes %v, want %v", keys, want)
	}
}

func TestVolumeDiff(t *testing.T) {
	opts := map[string]string{"type": "nfs", "o": "addr=10.0.0.5,rw", "device": ":/exports/shop"}
	for _, tc := range []struct {
		name string
		def  spec.Volume
		have engine.Volume
		want string
	}{
		{"plain", spec.Volume{Key: "data"}, engine.Volume{Driver: "local"}, ""},
		{"empty options", spec.Volume{Key: "data", Driver: "local"}, engine.Volume{Driver: "local", Options: map[string]string{}}, ""},
		{"same options", spec.Volume{Key: "data", DriverOpts: opts}, engine.Volume{Driver: "local", Options: maps.Clone(opts)}, ""},
		{"labels are not compared", spec.Volume{Key: "data", Labels: map[string]string{"a": "b"}}, engine.Volume{Driver: "local"}, ""},
		{"driver", spec.Volume{Key: "data", Driver: "rexray"}, engine.Volume{Driver: "local"}, `driver "local" on the volume, "rexray" in the file`},
		{"options", spec.Volume{Key: "data", DriverOpts: map[string]string{"type": "nfs", "o": "addr=10.0.0.6,rw", "device": ":/exports/shop"}},
			engine.Volume{Driver: "local", Options: map[string]string{"type": "nfs", "o": "addr=10.0.0.5,rw", "uid": "1000"}},
			`driver_opts.device not on the volume, ":/exports/shop" in the file, driver_opts.o "addr=10.0.0.5,rw" on the volume, "addr=10.0.0.6,rw" in the file, driver_opts.uid "1000" on the volume, not in the file`},
	} {
		if got := volumeDiff(tc.def, tc.have); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func fakeDeployer(t *testing.T, f *enginetest.Fake) *Deployer {
	t.Helper()
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc"})
	t.Cleanup(d.Close)
	return d
}

// A deploy that mounts a missing external volume is refused before
// anything changes: no release, no environment, no volume.
func TestDeployer_MissingExternalVolumeIsRefused(t *testing.T) {
	f := enginetest.NewFake()
	d := fakeDeployer(t, f)
	_, err := d.Deploy(context.Background(), volumesApp(), "production", DeployOptions{}, nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("deploy: %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`volume "legacy" is external (named "old-uploads") but no volume "old-uploads" exists on this host: create it (docker volume create old-uploads)`,
		`volume "media" is external but no volume "media" exists on this host: create it (docker volume create media) or restore the data into it, then deploy again; berth never creates an external volume`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if vs, _ := f.ListVolumes(context.Background(), nil); len(vs) != 0 {
		t.Errorf("volumes created: %+v", vs)
	}
	if _, err := d.store.GetApp("shop"); err == nil {
		t.Error("the refused deploy recorded the app")
	}
}

// A deploy is refused before anything changes when a volume it would
// create exists with other options.
func TestDeployer_VolumeWithOtherOptionsIsRefused(t *testing.T) {
	f := enginetest.NewFake()
	ctx := context.Background()
	for _, name := range []string{"media", "old-uploads"} {
		if _, err := f.EnsureVolume(ctx, engine.VolumeSpec{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.EnsureVolume(ctx, engine.VolumeSpec{Name: "shop-cache", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}}); err != nil {
		t.Fatal(err)
	}
	d := fakeDeployer(t, f)
	_, err := d.Deploy(ctx, volumesApp(), "production", DeployOptions{}, nil)
	want := `volume "cache" (shop-cache) exists with another driver or options than the Compose file declares: driver_opts.o "size=2m" on the volume, "size=1m" in the file; berth does not recreate a volume (its data would be lost): declare it as it is, or move its data out, remove it (docker volume rm shop-cache) and deploy again`
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("deploy: %v\nwant ErrInvalid with %s", err, want)
	}
	if v, _ := f.InspectVolume(ctx, "shop-cache"); v.Options["o"] != "size=2m" {
		t.Errorf("the volume was changed: %+v", v)
	}
}

// ensureVolumes creates what the file declares, with its driver, options
// and labels under berth's, and never an external volume.
func TestDeployer_EnsureVolumes(t *testing.T) {
	f := enginetest.NewFake()
	ctx := context.Background()
	d := fakeDeployer(t, f)
	app := volumesApp()
	vols := mountedVolumes(app, "production")
	err := d.ensureVolumes(ctx, app, "production", vols, func(string, ...any) {})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `no volume "media" exists`) {
		t.Fatalf("missing external volume: %v", err)
	}
	if _, err := f.InspectVolume(ctx, "media"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the external volume was created: %v", err)
	}
	for _, name := range []string{"media", "old-uploads"} {
		if _, err := f.EnsureVolume(ctx, engine.VolumeSpec{Name: name, Labels: map[string]string{"owner": "ops"}}); err != nil {
			t.Fatal(err)
		}
	}
	var said []string
	if err := d.ensureVolumes(ctx, app, "production", vols, func(f string, a ...any) { said = append(said, f) }); err != nil {
		t.Fatal(err)
	}
	cache, err := f.InspectVolume(ctx, "shop-cache")
	if err != nil || cache.Driver != "local" || !maps.Equal(cache.Options, app.Volumes[0].DriverOpts) ||
		!maps.Equal(cache.Labels, map[string]string{"team": "shop", engine.LabelManaged: "true", engine.LabelApp: "shop", engine.LabelEnv: "production", LabelVolume: "cache"}) {
		t.Errorf("created volume: %+v %v", cache, err)
	}
	if v, err := f.InspectVolume(ctx, "shop-production-uploads"); err != nil || v.Labels[LabelVolume] != "uploads" {
		t.Errorf("scoped volume: %+v %v", v, err)
	}
	if v, _ := f.InspectVolume(ctx, "media"); !maps.Equal(v.Labels, map[string]string{"owner": "ops"}) {
		t.Errorf("the external volume was changed: %+v", v)
	}
	if len(said) != 0 {
		t.Errorf("said %q", said)
	}
}

// Against the real engine: the local driver's options reach the volume
// (tmpfs here, the same shape as NFS's type/o/device), a volume with
// other options is refused, and an external one is used as it is.
func TestDeployer_VolumesOnDocker(t *testing.T) {
	eng, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	enginetest.RequireEngine(t, eng)
	ctx := context.Background()
	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	app := &spec.App{Name: "vol-" + id, Volumes: []spec.Volume{
		{Key: "scratch", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}, Labels: map[string]string{"team": "shop"}},
		{Key: "data", Name: "ext-" + id, External: true},
	}, Services: []spec.Service{{Name: "web", Volumes: []spec.Mount{
		{Type: "volume", Source: "scratch", Target: "/scratch"}, {Type: "volume", Source: "data", Target: "/data"}}}}}
	scoped := VolumeName(app.Name, "production", "scratch")
	for _, n := range []string{scoped, "ext-" + id} {
		t.Cleanup(func() { _ = eng.RemoveVolume(context.Background(), n) })
	}
	d := New(Options{Engine: eng, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{})})
	vols := mountedVolumes(app, "production")
	say := func(string, ...any) {}
	if err := d.checkVolumes(ctx, app, "production"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "docker volume create ext-"+id) {
		t.Fatalf("check with the external volume missing: %v", err)
	}
	if err := d.ensureVolumes(ctx, app, "production", vols, say); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ensure with the external volume missing: %v", err)
	}
	if _, err := eng.InspectVolume(ctx, "ext-"+id); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the external volume was created: %v", err)
	}
	if _, err := eng.EnsureVolume(ctx, engine.VolumeSpec{Name: "ext-" + id}); err != nil {
		t.Fatal(err)
	}
	if err := d.checkVolumes(ctx, app, "production"); err != nil {
		t.Fatal(err)
	}
	if err := d.ensureVolumes(ctx, app, "production", vols, say); err != nil {
		t.Fatal(err)
	}
	v, err := eng.InspectVolume(ctx, scoped)
	if err != nil || v.Driver != "local" || !maps.Equal(v.Options, app.Volumes[0].DriverOpts) || v.Labels["team"] != "shop" || v.Labels[LabelVolume] != "scratch" {
		t.Fatalf("the engine's volume: %+v %v", v, err)
	}
	if ext, err := eng.InspectVolume(ctx, "ext-"+id); err != nil || ext.Labels[engine.LabelManaged] != "" {
		t.Fatalf("the external volume: %+v %v", ext, err)
	}
	app.Volumes[0].DriverOpts = map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}
	for _, err := range []error{d.checkVolumes(ctx, app, "production"), d.ensureVolumes(ctx, app, "production", mountedVolumes(app, "production"), say)} {
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `driver_opts.o "size=1m" on the volume, "size=2m" in the file`) {
			t.Errorf("other options: %v", err)
		}
	}
}

// A one-off command mounts the live release's volumes by their engine
// names, and is refused while an external one is missing.
func TestDeployer_OneOffMountsTheReleaseVolumes(t *testing.T) {
	f := enginetest.NewFake()
	ctx := context.Background()
	d := fakeDeployer(t, f)
	if err := d.store.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	rel, err := d.store.CreateRelease(store.Release{App: "shop", Env: "production", Spec: *volumesApp(),
		Services: map[string]store.ServiceImage{"web": {Image: "shop:1", ImageID: "sha256:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.store.Activate("shop", "production", rel.ID, store.StatusSuperseded); err != nil {
		t.Fatal(err)
	}
	if _, err := d.oneOffSpec(ctx, "shop", "production", "web", nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "docker volume create media") {
		t.Fatalf("one-off with the external volume missing: %v", err)
	}
	for _, name := range []string{"media", "old-uploads"} {
		if _, err := f.EnsureVolume(ctx, engine.VolumeSpec{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := d.oneOffSpec(ctx, "shop", "production", "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, m := range cs.Mounts {
		sources = append(sources, m.Source)
	}
	if got, want := strings.Join(sources, " "), "shop-production-uploads /etc/shop media old-uploads"; got != want {
		t.Errorf("one-off mounts %s, want %s", got, want)
	}
}

// On a cluster, as docker stack deploy does, a volume berth owns reaches
// the workload's mounts with its driver, options and labels (each node
// creates it where a task lands); an external volume is refused before
// anything changes, since a node without it would create an empty one.
func TestDeployer_ClusterVolumes(t *testing.T) {
	cf := newClusterFixture(t)
	app := clusterApp("v1")
	nfs := map[string]string{"type": "nfs", "o": "addr=10.0.0.5,rw", "device": ":/exports/shop"}
	app.Volumes = []spec.Volume{{Key: "uploads", DriverOpts: nfs, Labels: map[string]string{"team": "shop"}}, {Key: "media", Name: "media", External: true}}
	app.Services[0].Volumes = []spec.Mount{{Type: "volume", Source: "uploads", Target: "/srv/uploads"}, {Type: "volume", Target: "/scratch"}}
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ws, ok := cf.f.AppliedWorkload("shop-production-web")
	if !ok || len(ws.Template.Mounts) != 2 {
		t.Fatalf("applied workload mounts: %+v", ws.Template.Mounts)
	}
	m := ws.Template.Mounts[0]
	if m.Source != "shop-production-uploads" || m.Volume == nil || !maps.Equal(m.Volume.DriverOpts, nfs) ||
		m.Volume.Labels["team"] != "shop" || m.Volume.Labels[LabelVolume] != "uploads" || m.Volume.Labels[engine.LabelApp] != "shop" {
		t.Errorf("owned volume mount %+v (volume %+v)", m, m.Volume)
	}
	if a := ws.Template.Mounts[1]; a.Source != "" || a.Volume != nil {
		t.Errorf("anonymous volume mount %+v", a)
	}

	app = clusterApp("v2")
	app.Volumes = []spec.Volume{{Key: "media", Name: "media", External: true}}
	app.Services[0].Volumes = []spec.Mount{{Type: "volume", Source: "media", Target: "/media"}}
	if _, err := cf.f.EnsureVolume(context.Background(), engine.VolumeSpec{Name: "media"}); err != nil {
		t.Fatal(err)
	}
	rels, _ := cf.st.ListReleases("shop", "production")
	_, err := cf.deploy(t, app, DeployOptions{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `volume "media" is external (media): on a Swarm cluster volumes belong to each node`) {
		t.Fatalf("external volume on a cluster: %v", err)
	}
	if after, _ := cf.st.ListReleases("shop", "production"); len(after) != len(rels) {
		t.Errorf("the refused deploy recorded a release")
	}
	if ws, _ := cf.f.AppliedWorkload("shop-production-web"); len(ws.Template.Mounts) != 2 {
		t.Errorf("the refused deploy changed the workload: %+v", ws.Template.Mounts)
	}
}
