package store

import (
	"errors"
	"testing"
)

func TestCanary_StartPromoteThroughActivate(t *testing.T) {
	s, _ := openTest(t)
	live := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a1")))
	must[int64](t)(s.Activate("shop", "production", live.ID, StatusSuperseded))
	can := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a2")))

	if _, err := s.GetCanary("shop", "production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no canary yet: %v", err)
	}
	if err := s.StartCanary(Canary{App: "shop", Env: "production", ReleaseID: can.ID, Weight: 100}); err == nil {
		t.Fatal("weight 100 accepted")
	}
	if err := s.StartCanary(Canary{App: "shop", Env: "production", ReleaseID: can.ID, Weight: 10, DeploymentID: 7}); err != nil {
		t.Fatal(err)
	}
	c := must[Canary](t)(s.GetCanary("shop", "production"))
	if c.ReleaseID != can.ID || c.Weight != 10 || c.DeploymentID != 7 || c.StartedAt.IsZero() {
		t.Fatalf("canary = %+v", c)
	}
	if got := statuses(t, s, "shop", "production"); got[can.ID] != StatusCanary || got[live.ID] != StatusLive {
		t.Fatalf("statuses %v", got)
	}
	third := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a3")))
	if err := s.StartCanary(Canary{App: "shop", Env: "production", ReleaseID: third.ID, Weight: 5}); !errors.Is(err, ErrTransition) {
		t.Fatalf("second canary: %v", err)
	}

	if err := s.SetCanaryHealth("shop", "production", can.ID, "web has no healthy container"); err != nil {
		t.Fatal(err)
	}
	c = must[Canary](t)(s.GetCanary("shop", "production"))
	if c.Unhealthy == "" || c.UnhealthySince.IsZero() {
		t.Fatalf("unhealthy canary = %+v", c)
	}
	if r := must[Release](t)(s.GetRelease("shop", "production", can.ID)); r.Reason != "web has no healthy container" {
		t.Fatalf("release reason %q", r.Reason)
	}
	if err := s.SetCanaryHealth("shop", "production", can.ID, ""); err != nil {
		t.Fatal(err)
	}
	if c = must[Canary](t)(s.GetCanary("shop", "production")); c.Unhealthy != "" || !c.UnhealthySince.IsZero() {
		t.Fatalf("recovered canary = %+v", c)
	}

	prev := must[int64](t)(s.Activate("shop", "production", can.ID, StatusSuperseded))
	if prev != live.ID {
		t.Fatalf("promote: previous %d", prev)
	}
	if _, err := s.GetCanary("shop", "production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("canary left after promote: %v", err)
	}
	if got := statuses(t, s, "shop", "production"); got[can.ID] != StatusLive || got[live.ID] != StatusSuperseded {
		t.Fatalf("after promote %v", got)
	}
}

func TestCanary_EndRecordsItRolledBack(t *testing.T) {
	s, _ := openTest(t)
	live := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a1")))
	must[int64](t)(s.Activate("shop", "production", live.ID, StatusSuperseded))
	can := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a2")))
	if err := s.StartCanary(Canary{App: "shop", Env: "production", ReleaseID: can.ID, Weight: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndCanary("shop", "production", live.ID, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ending a release that is not the canary: %v", err)
	}
	if err := s.EndCanary("shop", "production", can.ID, "canary removed by berth rollback"); err != nil {
		t.Fatal(err)
	}
	r := must[Release](t)(s.GetRelease("shop", "production", can.ID))
	if r.Status != StatusRolledBack || r.Reason != "canary removed by berth rollback" || r.EndedAt.IsZero() {
		t.Fatalf("ended canary = %+v", r)
	}
	if l := must[Release](t)(s.LiveRelease("shop", "production")); l.ID != live.ID {
		t.Fatalf("live is %d", l.ID)
	}
	if _, err := s.GetCanary("shop", "production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("canary left: %v", err)
	}
}

func TestCanary_SetWeightMovesTheRunningCanaryOnly(t *testing.T) {
	s, _ := openTest(t)
	live := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a1")))
	must[int64](t)(s.Activate("shop", "production", live.ID, StatusSuperseded))
	can := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a2")))
	if _, err := s.SetCanaryWeight("shop", "production", can.ID, 30); !errors.Is(err, ErrNotFound) {
		t.Fatalf("weight of no canary: %v", err)
	}
	if err := s.StartCanary(Canary{App: "shop", Env: "production", ReleaseID: can.ID, Weight: 20}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{0, 100, -5} {
		if _, err := s.SetCanaryWeight("shop", "production", can.ID, w); err == nil {
			t.Errorf("weight %d accepted", w)
		}
	}
	if _, err := s.SetCanaryWeight("shop", "production", live.ID, 30); !errors.Is(err, ErrNotFound) {
		t.Fatalf("weight of a release that is not the canary: %v", err)
	}
	was, err := s.SetCanaryWeight("shop", "production", can.ID, 50)
	if err != nil || was != 20 {
		t.Fatalf("set weight: was %d, %v", was, err)
	}
	if c := must[Canary](t)(s.GetCanary("shop", "production")); c.Weight != 50 || c.ReleaseID != can.ID {
		t.Fatalf("canary after the move = %+v", c)
	}
}
