package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

func testRelease(app, env, tag string) Release {
	img := app + ":" + tag
	return Release{
		App:      app,
		Env:      env,
		Services: map[string]ServiceImage{"web": {Image: img, ImageID: "sha256:" + tag}},
		Spec: spec.App{Name: app, Services: []spec.Service{{
			Name: "web", Image: img, Replicas: 2, Port: 8080, Hosts: []string{app + ".example.com"},
			Healthcheck: spec.Healthcheck{Path: "/up", Interval: spec.Duration(time.Second)},
		}}},
	}
}

func statuses(t *testing.T, s *Store, app, env string) map[int64]ReleaseStatus {
	t.Helper()
	rels, err := s.ListReleases(app, env)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]ReleaseStatus{}
	for _, r := range rels {
		out[r.ID] = r.Status
	}
	return out
}

func TestRelease_CreateGetListIDsPerEnv(t *testing.T) {
	s, _ := openTest(t)
	create := func(app, env, tag string) Release {
		t.Helper()
		r := testRelease(app, env, tag)
		r.ID, r.Status, r.Reason = 99, StatusLive, "ignored"
		return must[Release](t)(s.CreateRelease(r))
	}
	a1 := create("shop", "production", "a1")
	a2 := create("shop", "production", "a2")
	b1 := create("shop", "staging", "b1")
	c1 := create("blog", "production", "c1")
	a3 := create("shop", "production", "a3")
	for _, c := range []struct {
		r    Release
		want int64
	}{{a1, 1}, {a2, 2}, {b1, 1}, {c1, 1}, {a3, 3}} {
		if c.r.ID != c.want {
			t.Errorf("%s/%s %s: ID = %d, want %d", c.r.App, c.r.Env, c.r.Services["web"].Image, c.r.ID, c.want)
		}
		if c.r.Status != StatusPending || c.r.Reason != "" || c.r.CreatedAt.IsZero() {
			t.Errorf("created release = %+v, want pending with CreatedAt", c.r)
		}
	}

	got := must[Release](t)(s.GetRelease("shop", "production", 2))
	if got.Services["web"] != (ServiceImage{Image: "shop:a2", ImageID: "sha256:a2"}) ||
		got.Spec.Services[0].Healthcheck.Interval != spec.Duration(time.Second) ||
		!got.CreatedAt.Equal(a2.CreatedAt) || got.Status != StatusPending {
		t.Errorf("GetRelease = %+v", got)
	}

	rels := must[[]Release](t)(s.ListReleases("shop", "production"))
	var ids []int64
	for _, r := range rels {
		ids = append(ids, r.ID)
	}
	if fmt.Sprint(ids) != "[3 2 1]" {
		t.Errorf("ListReleases IDs = %v, want newest first [3 2 1]", ids)
	}

	// CreatedAt set by the caller is kept.
	at := time.Date(2017, 3, 1, 10, 0, 0, 0, time.UTC)
	r := testRelease("shop", "production", "old")
	r.CreatedAt = at
	if got := must[Release](t)(s.CreateRelease(r)); !got.CreatedAt.Equal(at) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, at)
	}

	for _, c := range []struct {
		name     string
		app, env string
		id       int64
	}{{"missing id", "shop", "production", 42}, {"missing env", "shop", "qa", 1}, {"missing app", "nope", "production", 1}} {
		if _, err := s.GetRelease(c.app, c.env, c.id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: GetRelease err = %v, want ErrNotFound", c.name, err)
		}
	}
	if _, err := s.ListReleases("shop", "qa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListReleases(unknown env) err = %v, want ErrNotFound", err)
	}
	if err := s.EnsureEnv("shop", "qa"); err != nil {
		t.Fatal(err)
	}
	if rels, err := s.ListReleases("shop", "qa"); err != nil || len(rels) != 0 {
		t.Errorf("ListReleases(empty env) = %v, %v; want none", rels, err)
	}
	if _, err := s.CreateRelease(Release{App: "shop"}); err == nil {
		t.Error("CreateRelease without env succeeded")
	}
}

func TestRelease_ActivateTransitions(t *testing.T) {
	s, _ := openTest(t)
	const app, env = "shop", "production"
	for _, tag := range []string{"v1", "v2", "v3"} {
		must[Release](t)(s.CreateRelease(testRelease(app, env, tag)))
	}
	if _, err := s.LiveRelease(app, env); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LiveRelease before any activation err = %v, want ErrNotFound", err)
	}

	steps := []struct {
		name     string
		id       int64
		previous ReleaseStatus
		wantPrev int64
		want     map[int64]ReleaseStatus
	}{
		{"first deploy", 1, StatusSuperseded, 0, map[int64]ReleaseStatus{1: StatusLive, 2: StatusPending, 3: StatusPending}},
		{"deploy v2", 2, StatusSuperseded, 1, map[int64]ReleaseStatus{1: StatusSuperseded, 2: StatusLive, 3: StatusPending}},
		{"rollback to v1", 1, StatusRolledBack, 2, map[int64]ReleaseStatus{1: StatusLive, 2: StatusRolledBack, 3: StatusPending}},
		{"activate live again is a no-op", 1, StatusSuperseded, 0, map[int64]ReleaseStatus{1: StatusLive, 2: StatusRolledBack, 3: StatusPending}},
		{"deploy v3", 3, StatusSuperseded, 1, map[int64]ReleaseStatus{1: StatusSuperseded, 2: StatusRolledBack, 3: StatusLive}},
		{"roll forward to rolled-back v2", 2, StatusRolledBack, 3, map[int64]ReleaseStatus{1: StatusSuperseded, 2: StatusLive, 3: StatusRolledBack}},
	}
	for _, st := range steps {
		before := time.Now()
		prev, err := s.Activate(app, env, st.id, st.previous)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if prev != st.wantPrev {
			t.Errorf("%s: prevID = %d, want %d", st.name, prev, st.wantPrev)
		}
		got := statuses(t, s, app, env)
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("%s: statuses = %v, want %v", st.name, got, st.want)
		}
		live := must[Release](t)(s.LiveRelease(app, env))
		if live.ID != st.id || !live.EndedAt.IsZero() {
			t.Errorf("%s: live = %d (EndedAt %v), want %d with no EndedAt", st.name, live.ID, live.EndedAt, st.id)
		}
		if st.wantPrev != 0 {
			if live.LiveAt.Before(before.Add(-time.Second)) {
				t.Errorf("%s: LiveAt = %v, not set now", st.name, live.LiveAt)
			}
			old := must[Release](t)(s.GetRelease(app, env, st.wantPrev))
			if !old.EndedAt.Equal(live.LiveAt) {
				t.Errorf("%s: previous EndedAt = %v, want %v (same instant as LiveAt)", st.name, old.EndedAt, live.LiveAt)
			}
		}
		n := 0
		for _, status := range got {
			if status == StatusLive {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d live releases, want exactly 1", st.name, n)
		}
	}

	// Release content never changes through the transitions.
	r := must[Release](t)(s.GetRelease(app, env, 1))
	if r.Services["web"].Image != "shop:v1" || r.Spec.Services[0].Image != "shop:v1" {
		t.Errorf("release 1 content changed: %+v", r)
	}

	if _, err := s.Activate(app, env, 1, StatusFailed); err == nil {
		t.Error("Activate with previous=failed succeeded")
	}
	if _, err := s.Activate(app, env, 9, StatusSuperseded); !errors.Is(err, ErrNotFound) {
		t.Errorf("Activate(missing) err = %v, want ErrNotFound", err)
	}
	if _, err := s.Activate(app, "qa", 1, StatusSuperseded); !errors.Is(err, ErrNotFound) {
		t.Errorf("Activate(missing env) err = %v, want ErrNotFound", err)
	}
}

func TestRelease_FailedCannotBeActivated(t *testing.T) {
	s, _ := openTest(t)
	const app, env = "shop", "production"
	v1 := must[Release](t)(s.CreateRelease(testRelease(app, env, "v1")))
	must[int64](t)(s.Activate(app, env, v1.ID, StatusSuperseded))
	v2 := must[Release](t)(s.CreateRelease(testRelease(app, env, "v2")))

	if err := s.FailRelease(app, env, v2.ID, "health check /up never passed"); err != nil {
		t.Fatal(err)
	}
	got := must[Release](t)(s.GetRelease(app, env, v2.ID))
	if got.Status != StatusFailed || got.Reason != "health check /up never passed" || !got.LiveAt.IsZero() {
		t.Errorf("failed release = %+v", got)
	}
	_, err := s.Activate(app, env, v2.ID, StatusSuperseded)
	if !errors.Is(err, ErrTransition) {
		t.Errorf("Activate(failed) err = %v, want ErrTransition", err)
	}
	if live := must[Release](t)(s.LiveRelease(app, env)); live.ID != v1.ID {
		t.Errorf("live = %d after refused activation, want %d", live.ID, v1.ID)
	}
	if st := statuses(t, s, app, env); st[v1.ID] != StatusLive || st[v2.ID] != StatusFailed {
		t.Errorf("statuses = %v", st)
	}
}

func TestRelease_FailOnlyPending(t *testing.T) {
	s, _ := openTest(t)
	const app, env = "shop", "production"
	v1 := must[Release](t)(s.CreateRelease(testRelease(app, env, "v1")))
	must[int64](t)(s.Activate(app, env, v1.ID, StatusSuperseded))
	if err := s.FailRelease(app, env, v1.ID, "x"); !errors.Is(err, ErrTransition) {
		t.Errorf("FailRelease(live) err = %v, want ErrTransition", err)
	}
	v2 := must[Release](t)(s.CreateRelease(testRelease(app, env, "v2")))
	if err := s.FailRelease(app, env, v2.ID, "first"); err != nil {
		t.Fatal(err)
	}
	if err := s.FailRelease(app, env, v2.ID, "second"); !errors.Is(err, ErrTransition) {
		t.Errorf("FailRelease(failed) err = %v, want ErrTransition", err)
	}
	if r := must[Release](t)(s.GetRelease(app, env, v2.ID)); r.Reason != "first" {
		t.Errorf("reason = %q, want the first one kept", r.Reason)
	}
	if err := s.FailRelease(app, env, 77, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FailRelease(missing) err = %v, want ErrNotFound", err)
	}
	if live := must[Release](t)(s.LiveRelease(app, env)); live.Status != StatusLive || live.ID != v1.ID {
		t.Errorf("live = %+v", live)
	}
}

func TestRelease_ConcurrentCreateUniqueIDs(t *testing.T) {
	s, _ := openTest(t)
	const workers, each = 8, 10
	envs := []string{"production", "staging"}
	var wg sync.WaitGroup
	ids := make(chan [2]any, workers*each)
	for w := range workers {
		wg.Go(func() {
			env := envs[w%len(envs)]
			for i := range each {
				r, err := s.CreateRelease(testRelease("shop", env, fmt.Sprintf("w%di%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				ids <- [2]any{env, r.ID}
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[[2]any]bool{}
	for k := range ids {
		if seen[k] {
			t.Errorf("duplicate ID %v", k)
		}
		seen[k] = true
	}
	per := workers * each / len(envs)
	for _, env := range envs {
		rels := must[[]Release](t)(s.ListReleases("shop", env))
		if len(rels) != per {
			t.Fatalf("%s: %d releases, want %d", env, len(rels), per)
		}
		for i, r := range rels {
			if want := int64(per - i); r.ID != want {
				t.Errorf("%s: release at %d has ID %d, want %d (dense, newest first)", env, i, r.ID, want)
			}
		}
	}
}
