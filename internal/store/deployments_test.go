package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

func depIDs(ds []Deployment) string {
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return fmt.Sprint(ids)
}

func TestDeployment_CRUD(t *testing.T) {
	s, _ := openTest(t)
	d := must[Deployment](t)(s.CreateDeployment(Deployment{App: "shop", Env: "production", Kind: KindDeploy, ReleaseID: 2, FromReleaseID: 1, Status: DeploymentSucceeded}))
	if d.ID != 1 || d.Status != DeploymentRunning || d.StartedAt.IsZero() {
		t.Fatalf("created = %+v, want ID 1, running, StartedAt set", d)
	}
	d2 := must[Deployment](t)(s.CreateDeployment(Deployment{App: "blog", Env: "production", Kind: KindDeploy, ReleaseID: 1}))
	if d2.ID != 2 {
		t.Errorf("second deployment ID = %d, want 2 (global sequence)", d2.ID)
	}

	started := d.StartedAt
	d.Status = DeploymentSucceeded
	d.EndedAt = started.Add(3 * time.Second)
	d.Served, d.Failed = 1200, 0
	d.Timeline = []Step{
		{At: started, Elapsed: 0, Message: "starting 2 containers"},
		{At: started.Add(2 * time.Second), Elapsed: spec.Duration(2 * time.Second), Message: "healthy"},
	}
	if err := s.UpdateDeployment(d); err != nil {
		t.Fatal(err)
	}
	got := must[Deployment](t)(s.GetDeployment(d.ID))
	if got.Status != DeploymentSucceeded || got.Served != 1200 || len(got.Timeline) != 2 ||
		got.Timeline[1].Elapsed != spec.Duration(2*time.Second) || got.Timeline[1].Message != "healthy" ||
		!got.EndedAt.Equal(d.EndedAt) || got.FromReleaseID != 1 || got.Kind != KindDeploy {
		t.Errorf("GetDeployment = %+v", got)
	}

	if _, err := s.GetDeployment(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetDeployment(missing) err = %v, want ErrNotFound", err)
	}
	if err := s.UpdateDeployment(Deployment{ID: 99, App: "shop", Env: "production"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateDeployment(missing) err = %v, want ErrNotFound", err)
	}
	moved := got
	moved.Env = "staging"
	if err := s.UpdateDeployment(moved); err == nil {
		t.Error("UpdateDeployment moving it to another env succeeded")
	}
	if _, err := s.CreateDeployment(Deployment{Env: "production"}); err == nil {
		t.Error("CreateDeployment without app succeeded")
	}
}

func TestDeployment_ListNewestFirstFiltered(t *testing.T) {
	s, _ := openTest(t)
	// IDs:        1       2        3         4       5        6       7
	plan := [][2]string{{"shop", "production"}, {"shop", "staging"}, {"shop-admin", "production"}, {"shop", "production"}, {"blog", "production"}, {"shop", "staging"}, {"shop", "production"}}
	for _, p := range plan {
		must[Deployment](t)(s.CreateDeployment(Deployment{App: p[0], Env: p[1], Kind: KindDeploy}))
	}
	cases := []struct {
		app, env string
		limit    int
		want     string
	}{
		{"shop", "production", 0, "[7 4 1]"},
		{"shop", "production", 2, "[7 4]"},
		{"shop", "staging", 0, "[6 2]"},
		{"shop", "", 0, "[7 6 4 2 1]"},
		{"shop", "", 3, "[7 6 4]"},
		{"shop-admin", "", 0, "[3]"},
		{"blog", "production", 0, "[5]"},
		{"blog", "staging", 0, "[]"},
		{"zzz", "", 0, "[]"},
		{"a", "", 0, "[]"},
		{"", "", 4, "[7 6 5 4]"},
		{"", "production", 0, "[7 5 4 3 1]"},
	}
	for _, c := range cases {
		got := must[[]Deployment](t)(s.ListDeployments(c.app, c.env, c.limit))
		if depIDs(got) != c.want {
			t.Errorf("ListDeployments(%q, %q, %d) = %s, want %s", c.app, c.env, c.limit, depIDs(got), c.want)
		}
		for _, d := range got {
			if (c.app != "" && d.App != c.app) || (c.env != "" && d.Env != c.env) {
				t.Errorf("ListDeployments(%q, %q) returned %d of %s/%s", c.app, c.env, d.ID, d.App, d.Env)
			}
		}
	}
}

func TestDeployment_InterruptRunning(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := must[Deployment](t)(s.CreateDeployment(Deployment{App: "shop", Env: "production", Kind: KindDeploy, ReleaseID: 1}))
	b := must[Deployment](t)(s.CreateDeployment(Deployment{App: "shop", Env: "staging", Kind: KindDeploy, ReleaseID: 1}))
	c := must[Deployment](t)(s.CreateDeployment(Deployment{App: "blog", Env: "production", Kind: KindRollback, ReleaseID: 3}))
	b.Status, b.EndedAt = DeploymentSucceeded, time.Now()
	if err := s.UpdateDeployment(b); err != nil {
		t.Fatal(err)
	}
	// berth is killed here; the next start interrupts what was running.
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const reason = "berth stopped while this deployment ran"
	got := must[[]Deployment](t)(s.InterruptRunning(reason))
	if depIDs(got) != fmt.Sprint([]int64{a.ID, c.ID}) {
		t.Fatalf("interrupted = %s, want [%d %d]", depIDs(got), a.ID, c.ID)
	}
	for _, id := range []int64{a.ID, c.ID} {
		d := must[Deployment](t)(s.GetDeployment(id))
		if d.Status != DeploymentInterrupted || d.Error != reason || d.EndedAt.IsZero() {
			t.Errorf("deployment %d = %+v, want interrupted with reason and EndedAt", id, d)
		}
	}
	if d := must[Deployment](t)(s.GetDeployment(b.ID)); d.Status != DeploymentSucceeded || d.Error != "" {
		t.Errorf("finished deployment changed: %+v", d)
	}
	if again := must[[]Deployment](t)(s.InterruptRunning(reason)); len(again) != 0 {
		t.Errorf("second InterruptRunning = %s, want none", depIDs(again))
	}
	// A new deployment after the restart is running and gets a fresh ID.
	d := must[Deployment](t)(s.CreateDeployment(Deployment{App: "shop", Env: "production", Kind: KindDeploy}))
	if d.ID != c.ID+1 {
		t.Errorf("new deployment ID = %d, want %d", d.ID, c.ID+1)
	}
	if got := must[[]Deployment](t)(s.InterruptRunning(reason)); depIDs(got) != fmt.Sprint([]int64{d.ID}) {
		t.Errorf("interrupted = %s, want [%d]", depIDs(got), d.ID)
	}
}
