package deploy

import (
	"errors"
	"testing"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

func newTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// history creates releases r1..rn of shop/production, each with image
// sha256:<n>, and makes them live in order (all but the failed ones).
func history(t *testing.T, st *store.Store, n int, failed ...int64) {
	t.Helper()
	isFailed := map[int64]bool{}
	for _, f := range failed {
		isFailed[f] = true
	}
	for i := 1; i <= n; i++ {
		r, err := st.CreateRelease(store.Release{App: "shop", Env: "production",
			Services: map[string]store.ServiceImage{"web": {Image: "shop:x", ImageID: "sha256:" + string(rune('a'+i-1))}},
			Spec:     spec.App{Name: "shop"}})
		if err != nil {
			t.Fatal(err)
		}
		if isFailed[r.ID] {
			if err := st.FailRelease("shop", "production", r.ID, "boom"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := st.Activate("shop", "production", r.ID, store.StatusSuperseded); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRollbackTarget_WalksBackThroughHistory(t *testing.T) {
	st := newTestStore(t)
	d := New(Options{Store: st})
	history(t, st, 4, 3) // r1, r2 superseded; r3 failed; r4 live

	target, live, err := d.rollbackTarget("shop", "production", 0)
	if err != nil || target.ID != 2 || live.ID != 4 {
		t.Fatalf("first rollback: target %d live %d err %v, want 2 from 4", target.ID, live.ID, err)
	}
	if _, err := st.Activate("shop", "production", 2, store.StatusRolledBack); err != nil {
		t.Fatal(err)
	}
	// The rolled-back r4 is not a candidate: the next rollback goes to r1.
	if target, _, err = d.rollbackTarget("shop", "production", 0); err != nil || target.ID != 1 {
		t.Fatalf("second rollback: target %d err %v, want 1", target.ID, err)
	}
	if _, err := st.Activate("shop", "production", 1, store.StatusRolledBack); err != nil {
		t.Fatal(err)
	}
	if _, _, err = d.rollbackTarget("shop", "production", 0); !errors.Is(err, ErrNoRelease) {
		t.Fatalf("nothing older: %v", err)
	}
	// Named targets: a rolled-back release can be chosen explicitly, a
	// failed one or the live one cannot.
	if target, _, err = d.rollbackTarget("shop", "production", 4); err != nil || target.ID != 4 {
		t.Fatalf("--to 4: %d %v", target.ID, err)
	}
	for _, to := range []int64{1, 3, 99} {
		if _, _, err := d.rollbackTarget("shop", "production", to); err == nil {
			t.Errorf("--to %d: want an error", to)
		}
	}
}

func TestImageRetention_KeepsWhatRollbackCanTarget(t *testing.T) {
	st := newTestStore(t)
	d := New(Options{Store: st, KeepReleases: 2})
	history(t, st, 5, 4) // r1..r3 superseded, r4 failed, r5 live
	// Another app uses r1's image: it must survive.
	r, _ := st.CreateRelease(store.Release{App: "blog", Env: "staging", Services: map[string]store.ServiceImage{"web": {ImageID: "sha256:a"}}, Spec: spec.App{Name: "blog"}})
	if _, err := st.Activate("blog", "staging", r.ID, store.StatusSuperseded); err != nil {
		t.Fatal(err)
	}
	keep, drop, err := d.imageRetention()
	if err != nil {
		t.Fatal(err)
	}
	// Good releases newest first: r5 (live), r3 → kept; r2, r1 → dropped.
	for _, id := range []string{"sha256:e", "sha256:c", "sha256:a"} {
		if !keep[id] {
			t.Errorf("%s not kept", id)
		}
	}
	if !drop["sha256:b"] || keep["sha256:b"] {
		t.Errorf("sha256:b (release 2, beyond the window) should be pruned: keep %v drop %v", keep, drop)
	}
	if keep["sha256:d"] || drop["sha256:d"] {
		t.Errorf("a failed release's image is neither kept nor pruned by berth")
	}
}
