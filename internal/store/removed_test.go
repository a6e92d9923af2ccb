package store

import (
	"errors"
	"slices"
	"testing"
)

func TestStore_MarkRemovedKeepsHistory(t *testing.T) {
	s, _ := openTest(t)
	r1 := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a1")))
	must[int64](t)(s.Activate("shop", "production", r1.ID, StatusSuperseded))
	r2 := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a2")))
	must[int64](t)(s.Activate("shop", "production", r2.ID, StatusSuperseded))
	must[Release](t)(s.CreateRelease(testRelease("shop", "staging", "b1")))

	rm := must[Removal](t)(s.MarkRemoved("shop", "production", 7))
	if rm.Release != r2.ID || rm.Deployment != 7 || rm.At.IsZero() {
		t.Errorf("removal = %+v, want release %d, deployment 7, a time", rm, r2.ID)
	}
	if _, err := s.LiveRelease("shop", "production"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a removed environment has a live release: %v", err)
	}
	rels := must[[]Release](t)(s.ListReleases("shop", "production"))
	if len(rels) != 2 || rels[0].Status != StatusRemoved || rels[1].Status != StatusSuperseded {
		t.Fatalf("history after removal: %+v, want release 2 removed, 1 superseded", rels)
	}
	for _, r := range rels {
		if r.RemovedAt.IsZero() || len(r.Spec.Services) == 0 {
			t.Errorf("release %d: removed at %v, %d services; want marked and kept whole", r.ID, r.RemovedAt, len(r.Spec.Services))
		}
	}
	if _, gone, _ := s.Removed("shop", "production"); !gone {
		t.Error("Removed says production is not removed")
	}
	if _, gone, _ := s.Removed("shop", "staging"); gone {
		t.Error("Removed says staging is removed")
	}
	a := must[App](t)(s.GetApp("shop"))
	if !slices.Equal(a.Envs, []string{"production", "staging"}) || !slices.Equal(a.Active(), []string{"staging"}) || a.Removed["production"].IsZero() {
		t.Errorf("app = %+v (active %v), want production removed, staging active", a, a.Active())
	}
	// Removing again keeps the first removal.
	again := must[Removal](t)(s.MarkRemoved("shop", "production", 8))
	if !again.At.Equal(rm.At) || again.Release != r2.ID || again.Deployment != 8 {
		t.Errorf("second removal = %+v, want the first's time and release, deployment 8", again)
	}
	// A new deploy starts afresh; release numbers go on.
	r3 := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a3")))
	if r3.ID != 3 {
		t.Errorf("release after removal has ID %d, want 3", r3.ID)
	}
	if _, gone, _ := s.Removed("shop", "production"); gone {
		t.Error("a new release left the environment removed")
	}
	if r := must[Release](t)(s.GetRelease("shop", "production", 2)); r.Status != StatusRemoved {
		t.Errorf("release 2 is %s after the redeploy, want still removed", r.Status)
	}
}
