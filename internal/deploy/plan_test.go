package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

func testApp() *spec.App {
	return &spec.App{Name: "shop", Services: []spec.Service{
		{Name: "web", Image: "shop:1", Replicas: 2, Port: 8080, Hosts: []string{"shop.test"},
			Environment:     map[string]string{"B": "2", "A": "1"},
			Volumes:         []spec.Mount{{Type: "volume", Source: "uploads", Target: "/srv/uploads"}, {Type: "bind", Source: "/etc/shop", Target: "/etc/shop", ReadOnly: true}},
			StopGracePeriod: spec.Duration(7 * time.Second)},
		{Name: "worker", Image: "shop:1", Replicas: 1, Command: []string{"/app", "worker"}},
	}}
}

func container(name, app, env, svc, rel string) engine.Container {
	return engine.Container{ID: name + "-id", Name: name, Labels: map[string]string{
		engine.LabelApp: app, engine.LabelEnv: env, engine.LabelService: svc, engine.LabelRelease: rel}}
}

func TestMakePlan_StartsEveryReplicaAndRetiresOthers(t *testing.T) {
	observed := []engine.Container{
		container("shop-production-web-r1-1", "shop", "production", "web", "1"),
		container("shop-production-web-r1-2", "shop", "production", "web", "1"),
		container("shop-production-worker-r1-1", "shop", "production", "worker", "1"),
		container("shop-production-old-r1-1", "shop", "production", "old", "1"),
	}
	p := MakePlan(Desired{App: testApp(), Env: "production", Release: 2, Images: map[string]string{"web": "sha256:w", "worker": "sha256:k"}, Suffix: "abc"}, observed)

	if p.Network != "berth-shop-production" {
		t.Errorf("network %q", p.Network)
	}
	var names []string
	for _, s := range p.Start {
		names = append(names, s.Spec.Name)
	}
	want := []string{"shop-production-web-r2-1-abc", "shop-production-web-r2-2-abc", "shop-production-worker-r2-1-abc"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("start %v, want %v", names, want)
	}
	if got := len(p.Retire["web"]) + len(p.Retire["worker"]) + len(p.Retire["old"]); got != 4 {
		t.Errorf("retire %d containers, want 4: %v", got, p.Retire)
	}
}

func TestMakePlan_ContainerSpec(t *testing.T) {
	p := MakePlan(Desired{App: testApp(), Env: "staging", Release: 3, Images: map[string]string{"web": "sha256:w"}}, nil)
	web := p.Start[0].Spec
	if web.Image != "sha256:w" {
		t.Errorf("image %q: containers must run the resolved image ID", web.Image)
	}
	if p.Start[2].Spec.Image != "shop:1" {
		t.Errorf("worker image without resolved ID %q", p.Start[2].Spec.Image)
	}
	wantLabels := map[string]string{"berth.app": "shop", "berth.env": "staging", "berth.service": "web", "berth.release": "3", "berth.image": "shop:1"}
	if !reflect.DeepEqual(web.Labels, wantLabels) {
		t.Errorf("labels %v", web.Labels)
	}
	wantEnv := []string{"A=1", "B=2", "BERTH_APP=shop", "BERTH_ENV=staging", "BERTH_SERVICE=web", "BERTH_RELEASE=3"}
	if !reflect.DeepEqual(web.Env, wantEnv) {
		t.Errorf("env %v", web.Env)
	}
	if web.Mounts[0].Source != "shop-staging-uploads" || web.Mounts[1].Source != "/etc/shop" || !web.Mounts[1].ReadOnly {
		t.Errorf("mounts %v: named volumes are scoped per app/env, binds kept", web.Mounts)
	}
	if web.StopGrace != 7*time.Second || web.RestartPolicy != "no" || web.Network != "berth-shop-staging" || !reflect.DeepEqual(web.Aliases, []string{"web"}) {
		t.Errorf("spec %+v", web)
	}
}

func TestMakePlan_OtherAppsAreNotTouched(t *testing.T) {
	// The caller lists by app/env label, but the plan must not rely on it
	// for the new release's own containers.
	observed := []engine.Container{container("shop-production-web-r2-1-abc", "shop", "production", "web", "2")}
	p := MakePlan(Desired{App: testApp(), Env: "production", Release: 2, Suffix: "abc"}, observed)
	if len(p.Retire) != 0 {
		t.Errorf("a container of the new release itself is retired: %v", p.Retire)
	}
}

// A stateful service's definition includes the declarations of the
// volumes it mounts, so that turning its volume external (or renaming
// it) replaces the container instead of keeping it on the old volume;
// volumes declared by their key alone leave the hash as it was before
// volumes had declarations.
func TestStatefulHash_VolumeDeclarations(t *testing.T) {
	app := &spec.App{Name: "shop", Volumes: []spec.Volume{{Key: "data"}}, Services: []spec.Service{
		{Name: "db", Image: "postgres:16", Replicas: 1, Stateful: true, Volumes: []spec.Mount{{Type: "volume", Source: "data", Target: "/var/lib/postgresql/data"}}}}}
	svc := app.Services[0]
	b, _ := json.Marshal(struct {
		S spec.Service
		I string
	}{svc, "sha256:db"})
	sum := sha256.Sum256(b)
	if got, want := statefulHash(app, svc, "sha256:db"), hex.EncodeToString(sum[:8]); got != want {
		t.Errorf("hash %s, want the earlier %s", got, want)
	}
	before := statefulHash(app, svc, "sha256:db")
	app.Volumes[0].Labels = map[string]string{"team": "shop"}
	if statefulHash(app, svc, "sha256:db") != before {
		t.Error("a volume label changed the hash")
	}
	app.Volumes[0] = spec.Volume{Key: "data", Name: "pgdata", External: true}
	if statefulHash(app, svc, "sha256:db") == before {
		t.Error("turning the volume external left the hash as it was")
	}
}
