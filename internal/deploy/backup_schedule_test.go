package deploy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// The schedule is armed when first seen, backs up at its slot, once for
// slots missed while berth was down, and records a backup that could
// not be made as a failed one, told to OnFailure. (The fake engine
// cannot copy volumes: every backup here fails, which is what is
// checked.)
func TestBackups_ScheduleArmsRunsOnceAndReportsFailures(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	d := New(Options{Engine: enginetest.NewFake(), Store: newTestStore(t), Proxy: proxy.New(proxy.Options{}), Now: clock})
	t.Cleanup(d.Close)
	var failed []store.Backup
	b := d.NewBackups(BackupOptions{Dir: t.TempDir(), OnFailure: func(bk store.Backup) { mu.Lock(); failed = append(failed, bk); mu.Unlock() }})
	app := spec.App{Name: "shop", Services: []spec.Service{{Name: "db", Image: "db:1", Replicas: 1, Volumes: []spec.Mount{{Type: "volume", Source: "data", Target: "/data"}}}},
		Volumes: []spec.Volume{{Key: "data"}}, Backups: &spec.BackupPolicy{Schedule: "0 3 * * *", Keep: spec.Keep{Last: 3}}}
	for _, env := range []string{"production", "staging"} {
		a := app
		if env == "staging" {
			a.Backups = nil // no schedule: never backed up by one
		}
		rel, err := d.store.CreateRelease(store.Release{App: "shop", Env: env, Spec: a, Services: map[string]store.ServiceImage{"db": {Image: "db:1", ImageID: "sha256:1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.store.Activate("shop", env, rel.ID, store.StatusSuperseded); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	tick := func(at time.Time) []store.Backup {
		t.Helper()
		set(at)
		b.scheduleTick(ctx)
		b.sched.runs.Wait()
		bs, err := d.store.ListBackups("shop", "production")
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}
	if bs := tick(now); len(bs) != 0 {
		t.Fatalf("armed, it backed up at once: %+v", bs)
	}
	if st, _ := d.store.GetBackupState("shop", "production"); !st.Last.Equal(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("not armed at now: %+v", st)
	}
	if bs := tick(time.Date(2026, 12, 5, 2, 59, 0, 0, time.UTC)); len(bs) != 0 {
		t.Fatalf("before its slot: %+v", bs)
	}
	bs := tick(time.Date(2026, 12, 5, 3, 0, 5, 0, time.UTC))
	if len(bs) != 1 || bs[0].Status != store.BackupFailed || bs[0].Trigger != store.TriggerSchedule || !strings.Contains(bs[0].Error, "cannot copy volumes") {
		t.Fatalf("at its slot: %+v", bs)
	}
	if bs := tick(time.Date(2026, 12, 5, 3, 0, 30, 0, time.UTC)); len(bs) != 1 {
		t.Fatalf("the same slot twice: %+v", bs)
	}
	// Down for three slots: one backup stands for them.
	if bs := tick(time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)); len(bs) != 2 {
		t.Fatalf("after three missed slots: %d backups, want one more", len(bs))
	}
	if st, _ := d.store.GetBackupState("shop", "production"); !st.Last.Equal(time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("schedule state after catching up: %+v", st)
	}
	mu.Lock()
	n := len(failed)
	mu.Unlock()
	if n != 2 {
		t.Fatalf("OnFailure told of %d failures, want 2", n)
	}
	evs, _ := d.store.ListEvents("shop", "production", 10)
	if len(evs) != 2 || evs[0].Kind != EventBackupFailed {
		t.Fatalf("events: %+v", evs)
	}
	if sb, _ := d.store.ListBackups("shop", "staging"); len(sb) != 0 {
		t.Fatalf("staging has no schedule, and was backed up: %+v", sb)
	}
}
