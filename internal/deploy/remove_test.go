package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// On a cluster, removing an environment removes its workloads, cluster
// secrets and configs, routes and networks; the store keeps the history
// and a later deploy starts afresh with the next release number.
func TestDeployer_ClusterRemoveEnv(t *testing.T) {
	cf := newClusterFixture(t)
	ctx := context.Background()
	if err := cf.st.SetSecret("shop", "production", "API_KEY", "k1"); err != nil {
		t.Fatal(err)
	}
	app := clusterApp("v1")
	app.Services[0].Configs = []spec.ConfigFile{{Name: "site", Target: "/etc/site.conf", Content: "a=1"}}
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	// Another environment's objects stay.
	staging := clusterApp("s1")
	staging.Services[0].Hosts = []string{"staging.shop.test"}
	if _, err := cf.d.Deploy(ctx, staging, "staging", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{engine.LabelApp: "shop", engine.LabelEnv: "production"}
	if n, _ := cf.f.ConfigsByLabel(ctx, labels); len(n) != 1 {
		t.Fatalf("configs before removal: %v, want one", n)
	}
	if s, _ := cf.f.ListSecrets(ctx, labels); len(s) != 1 {
		t.Fatalf("secrets before removal: %v, want one", s)
	}

	var lines []string
	dep, err := cf.d.RemoveEnv(ctx, "shop", "production", RemoveOptions{}, func(p Progress) { lines = append(lines, p.Message) })
	if err != nil {
		t.Fatalf("RemoveEnv: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if dep.Kind != store.KindRemove || dep.Status != store.DeploymentSucceeded || dep.ReleaseID != 1 {
		t.Errorf("removal record = %+v, want a succeeded remove of release 1", dep)
	}
	if ws, _ := cf.f.ListWorkloads(ctx, labels); len(ws) != 0 {
		t.Errorf("workloads after removal: %+v", ws)
	}
	if s, _ := cf.f.ListSecrets(ctx, labels); len(s) != 0 {
		t.Errorf("secrets after removal: %+v", s)
	}
	if n, _ := cf.f.ConfigsByLabel(ctx, labels); len(n) != 0 {
		t.Errorf("configs after removal: %v", n)
	}
	if n, _ := cf.f.NetworksByLabel(ctx, labels); len(n) != 0 {
		t.Errorf("networks after removal: %v", n)
	}
	if p, _ := cf.px.Route(routeKey("shop", "production", "web")); p != nil {
		t.Error("the route is still in the proxy")
	}
	if ws, _ := cf.f.ListWorkloads(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelEnv: "staging"}); len(ws) != 1 {
		t.Errorf("staging's workloads: %+v, want its one left alone", ws)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"removing shop/production", "route of web removed", "removed workload shop-production-web", "removed cluster secret", "removed cluster config", "removed network berth-shop-production", "shop/production removed in"} {
		if !strings.Contains(joined, want) {
			t.Errorf("progress lacks %q:\n%s", want, joined)
		}
	}
	st, err := cf.d.Status(ctx, "shop", "production")
	if err != nil || st.Live != nil || st.RemovedAt.IsZero() {
		t.Errorf("status after removal: live %v removed %v err %v; want removed, nothing live", st.Live, st.RemovedAt, err)
	}
	evs, _ := cf.st.ListEvents("shop", "production", 10)
	if len(evs) == 0 || evs[0].Kind != "removed" {
		t.Errorf("events after removal: %+v, want a removed event", evs)
	}
	if _, err := cf.d.Rollback(ctx, "shop", "production", 1, DeployOptions{}, nil); err == nil {
		t.Error("a rollback to a removed release was accepted")
	}

	// Redeploy: fresh, release 2.
	if _, err := cf.deploy(t, clusterApp("v2"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := cf.get(t); got != "v2" {
		t.Errorf("after the redeploy: GET = %q, want v2", got)
	}
	live, err := cf.st.LiveRelease("shop", "production")
	if err != nil || live.ID != 2 {
		t.Errorf("live after redeploy: %d, %v; want release 2", live.ID, err)
	}
	if _, err := cf.d.Rollback(ctx, "shop", "production", 0, DeployOptions{}, nil); !errors.Is(err, ErrNoRelease) {
		t.Errorf("rollback across a removal: %v, want ErrNoRelease", err)
	}
}

// A removal waits for no deploy: one in progress refuses it, and a
// volume that is not the environment's refuses it before anything
// changes.
func TestDeployer_RemoveRefusals(t *testing.T) {
	cf := newClusterFixture(t)
	ctx := context.Background()
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	unlock, err := cf.d.tryLock("shop", "production", store.KindDeploy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cf.d.RemoveEnv(ctx, "shop", "production", RemoveOptions{}, nil)
	unlock()
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "while it deploys") {
		t.Errorf("remove during a deploy: %v, want ErrBusy saying to wait", err)
	}
	_, err = cf.d.RemoveEnv(ctx, "shop", "production", RemoveOptions{Volumes: []string{"someone-elses"}}, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "someone-elses") {
		t.Errorf("remove with a foreign volume: %v, want it refused", err)
	}
	if _, err := cf.st.LiveRelease("shop", "production"); err != nil {
		t.Errorf("a refused removal changed the store: %v", err)
	}
	if _, err := cf.d.RemoveEnv(ctx, "shop", "nope", RemoveOptions{}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("remove of an unknown environment: %v, want ErrNotFound", err)
	}
}

// On one host: containers (jobs and one-offs too) and networks go, a
// confirmed volume is deleted, another kept, and an external one is
// never deleted: asking for it refuses the removal before anything
// changes.
func TestDeployer_RemoveEnvVolumes(t *testing.T) {
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	ctx := context.Background()
	if _, err := f.EnsureVolume(ctx, engine.VolumeSpec{Name: "shared-media"}); err != nil {
		t.Fatal(err)
	}
	d := fakeDeployer(t, f)
	app := &spec.App{Name: "shop",
		Volumes: []spec.Volume{{Key: "data"}, {Key: "media", Name: "shared-media", External: true}},
		Services: []spec.Service{{Name: "worker", Image: "shop:1", Replicas: 1, Command: []string{"/app", "worker"}, StopGracePeriod: spec.Duration(time.Second),
			Volumes:     []spec.Mount{{Type: "volume", Source: "data", Target: "/data"}, {Type: "volume", Source: "media", Target: "/media"}},
			Healthcheck: spec.Healthcheck{Path: "/", Interval: spec.Duration(time.Second), Timeout: spec.Duration(time.Second), HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Minute)}}}}
	if _, err := d.Deploy(ctx, app, "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	// A one-off left behind (berth run) goes too.
	if _, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "shop-production-run-1", Image: "shop:1",
		Labels: map[string]string{engine.LabelApp: "shop", engine.LabelEnv: "production", LabelOneOff: "true"}}); err != nil {
		t.Fatal(err)
	}
	data := VolumeName("shop", "production", "data")
	if _, err := f.InspectVolume(ctx, data); err != nil {
		t.Fatalf("the app's volume: %v", err)
	}

	_, err := d.RemoveEnv(ctx, "shop", "production", RemoveOptions{Volumes: []string{data, "shared-media"}}, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "shared-media") || !strings.Contains(err.Error(), "external") {
		t.Fatalf("remove asking for the external volume: %v, want it refused", err)
	}
	if cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"}); len(cs) != 2 {
		t.Fatalf("the refused removal touched the containers: %d left, want 2", len(cs))
	}

	var lines []string
	if _, err := d.RemoveEnv(ctx, "shop", "production", RemoveOptions{Volumes: []string{data}}, func(p Progress) { lines = append(lines, p.Message) }); err != nil {
		t.Fatalf("RemoveEnv: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"}); len(cs) != 0 {
		t.Errorf("containers after removal: %+v", cs)
	}
	if n, _ := f.NetworksByLabel(ctx, map[string]string{engine.LabelApp: "shop"}); len(n) != 0 {
		t.Errorf("networks after removal: %v", n)
	}
	if _, err := f.InspectVolume(ctx, data); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the confirmed volume %s is still there: %v", data, err)
	}
	if _, err := f.InspectVolume(ctx, "shared-media"); err != nil {
		t.Errorf("the external volume went: %v", err)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"removed container shop-production-run-1", "deleted volume " + data, "kept external volume shared-media (media): berth never removes external volumes"} {
		if !strings.Contains(joined, want) {
			t.Errorf("progress lacks %q:\n%s", want, joined)
		}
	}
}

// The networks berth created from the file's networks: go with the
// environment; an external network it only joined stays.
func TestDeployer_RemoveEnvNetworks(t *testing.T) {
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	f.AddNetwork("corp-net")
	ctx := context.Background()
	d := fakeDeployer(t, f)
	app := &spec.App{Name: "shop",
		Networks: []spec.Network{
			{Key: "back", Internal: true, IPAM: &spec.IPAM{Config: []spec.IPAMPool{{Subnet: "172.28.0.0/24"}}}},
			{Key: "corp", Name: "corp-net", External: true},
		},
		Services: []spec.Service{{Name: "worker", Image: "shop:1", Replicas: 1, Command: []string{"/app", "worker"}, StopGracePeriod: spec.Duration(time.Second),
			Networks:    []spec.ServiceNetwork{{Key: "back"}, {Key: "corp"}},
			Healthcheck: spec.Healthcheck{Path: "/", Interval: spec.Duration(time.Second), Timeout: spec.Duration(time.Second), HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Minute)}}}}
	if _, err := d.Deploy(ctx, app, "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	back := EngineNetworkName(app, "production", "back")
	if _, err := f.InspectNetwork(ctx, back); err != nil {
		t.Fatalf("the app's network: %v", err)
	}
	var lines []string
	if _, err := d.RemoveEnv(ctx, "shop", "production", RemoveOptions{}, func(p Progress) { lines = append(lines, p.Message) }); err != nil {
		t.Fatalf("RemoveEnv: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if _, err := f.InspectNetwork(ctx, back); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("network %s is still there: %v", back, err)
	}
	if _, err := f.InspectNetwork(ctx, "corp-net"); err != nil {
		t.Errorf("the external network went: %v", err)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "removed network "+back) {
		t.Errorf("progress lacks the network:\n%s", strings.Join(lines, "\n"))
	}
}
