package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

func scaleTestApp() *spec.App {
	return &spec.App{Name: "shop", Services: []spec.Service{
		{Name: "web", Replicas: 2, Hosts: []string{"shop.test"}, Port: 8080},
		{Name: "worker", Replicas: 1},
		{Name: "db", Replicas: 1, Stateful: true},
		{Name: "mail", Replicas: 1, Ports: []spec.Port{{Target: 25, Published: 25, Protocol: "tcp"}}},
	}}
}

// replica is a running container of release 7 of shop/production's
// service, replica index i.
func replica(service string, i int) engine.Container {
	return engine.Container{ID: fmt.Sprintf("%s-%d", service, i), Name: ContainerName("shop", "production", service, 7, i, "ab12cd"),
		State: engine.StateRunning, Created: time.Unix(int64(i), 0),
		Labels: map[string]string{engine.LabelApp: "shop", engine.LabelEnv: "production", engine.LabelService: service, engine.LabelRelease: "7"}}
}

func ids(cs []engine.Container) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestScaledApp_TheFileWinsWhenItsReplicasChange(t *testing.T) {
	app := scaleTestApp()
	scales := map[string]store.Scale{
		"web":    {Service: "web", Replicas: 5, File: 2},    // the file still says 2: 5 holds
		"worker": {Service: "worker", Replicas: 0, File: 3}, // the file says 1 now: the file wins
		"gone":   {Service: "gone", Replicas: 4, File: 1},   // no longer in the file
	}
	got, stale := ScaledApp(*app, scales)
	if w, _ := got.Service("web"); w.Replicas != 5 {
		t.Errorf("web runs %d, want the scaled 5", w.Replicas)
	}
	if w, _ := got.Service("worker"); w.Replicas != 1 {
		t.Errorf("worker runs %d, want the file's 1", w.Replicas)
	}
	if !slices.Equal(stale, []string{"gone", "worker"}) {
		t.Errorf("stale = %v", stale)
	}
	if w, _ := app.Service("web"); w.Replicas != 2 {
		t.Errorf("ScaledApp changed its argument: web %d", w.Replicas)
	}
	if same, stale := ScaledApp(*app, nil); len(stale) != 0 || same.Services[0].Replicas != 2 {
		t.Errorf("no scales: %v %v", same.Services[0].Replicas, stale)
	}
}

func TestPlanScale_RefusesWhatCannotBeScaledSayingWhatToDo(t *testing.T) {
	app := scaleTestApp()
	app.Services = append(app.Services,
		spec.Service{Name: "sidecar", Replicas: 1, NetworkMode: "service:worker"},
		spec.Service{Name: "named", Replicas: 1, ContainerName: "the-one"},
		spec.Service{Name: "borrower", Replicas: 1, Container: &spec.ContainerOptions{VolumesFrom: []string{"worker:ro"}}})
	none := func(string) bool { return false }
	for _, tc := range []struct {
		target ScaleTarget
		want   string
	}{
		{ScaleTarget{"nosuch", 2}, `service "nosuch" is not in release 7 of shop: its services are web, worker, db, mail`},
		{ScaleTarget{"web", -1}, "give a count of 0 or more"},
		{ScaleTarget{"web", 0}, "needs at least one replica: scale it to 1 or more"},
		{ScaleTarget{"web", 1000}, "scale in steps"},
		{ScaleTarget{"db", 2}, "stateful"},
		{ScaleTarget{"mail", 2}, "publishes ports"},
		{ScaleTarget{"sidecar", 2}, "network_mode: service:worker"},
		{ScaleTarget{"worker", 2}, "sidecar shares its network"},
		{ScaleTarget{"named", 2}, "container_name: the-one names one container"},
		{ScaleTarget{"borrower", 2}, "volumes_from"},
	} {
		_, err := planScale(app, 7, []ScaleTarget{tc.target}, nil, none)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.target, err, tc.want)
		}
	}
	// Every refusal at once, not the first.
	_, err := planScale(app, 7, []ScaleTarget{{"nosuch", 1}, {"db", 3}}, nil, none)
	if err == nil || !strings.Contains(err.Error(), "nosuch") || !strings.Contains(err.Error(), "stateful") {
		t.Errorf("two refusals: %v", err)
	}
	// A stateful service kept at its one replica is no refusal, and
	// starts nothing even when its kept container is an older release's.
	if steps, err := planScale(app, 7, []ScaleTarget{{"db", 1}}, nil, none); err != nil || len(steps[0].start)+len(steps[0].remove) != 0 {
		t.Errorf("db=1: %+v, %v", steps, err)
	}
}

func TestPlanScale_OutFillsFreeIndexesInTakesUnhealthyThenNewest(t *testing.T) {
	app := scaleTestApp()
	// web runs replicas 1 and 3 (2 went); worker runs 1.
	running := []engine.Container{replica("web", 3), replica("web", 1), replica("worker", 1)}
	steps, err := planScale(app, 7, []ScaleTarget{{"web", 4}, {"worker", 3}}, running, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	web, worker := steps[0], steps[1]
	if web.from != 2 || web.to != 4 || web.svc.Replicas != 4 || !slices.Equal(web.start, []int{2, 4}) || len(web.remove) != 0 || len(web.keep) != 2 {
		t.Errorf("web: %d → %d, start %v, keep %v, remove %v", web.from, web.to, web.start, ids(web.keep), ids(web.remove))
	}
	if !slices.Equal(worker.start, []int{2, 3}) {
		t.Errorf("worker starts %v", worker.start)
	}

	// Scale-in: the unhealthy replica goes first, then the highest index.
	running = []engine.Container{replica("web", 1), replica("web", 2), replica("web", 3), replica("web", 4)}
	healthy := func(id string) bool { return id != "web-1" }
	steps, err = planScale(app, 7, []ScaleTarget{{"web", 2}}, running, healthy)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(steps[0].remove); !slices.Equal(got, []string{"web-4", "web-1"}) {
		t.Errorf("removes %v, want the unhealthy web-1 and the newest web-4", got)
	}
	if got := ids(steps[0].keep); !slices.Equal(got, []string{"web-2", "web-3"}) {
		t.Errorf("keeps %v", got)
	}
	// Already there: nothing to start or remove.
	steps, _ = planScale(app, 7, []ScaleTarget{{"web", 4}}, running, healthy)
	if len(steps[0].start)+len(steps[0].remove) != 0 {
		t.Errorf("a no-op scale starts %v, removes %v", steps[0].start, ids(steps[0].remove))
	}
}

func TestReplicaIndex(t *testing.T) {
	for c, want := range map[*engine.Container]int{
		ptr(replica("web", 12)):                      12,
		{Name: "other", Labels: map[string]string{}}: 0,
	} {
		if got := replicaIndex(*c); got != want {
			t.Errorf("%s: %d, want %d", c.Name, got, want)
		}
	}
	c := replica("web", 3)
	c.Name = "/" + ContainerName("shop", "production", "web", 7, 3, "")
	if got := replicaIndex(c); got != 3 {
		t.Errorf("%s: %d", c.Name, got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestScaleDependents_RefusesZeroForAServiceOthersWaitFor(t *testing.T) {
	app := scaleTestApp()
	app.Services[0].DependsOn = map[string]string{"worker": "service_started"}
	err := scaleDependents(app, []scaleStep{{svc: spec.Service{Name: "worker"}, to: 0}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "web depends on it") {
		t.Errorf("got %v", err)
	}
	if err := scaleDependents(app, []scaleStep{{svc: spec.Service{Name: "worker"}, to: 1}}); err != nil {
		t.Errorf("worker=1: %v", err)
	}
}
