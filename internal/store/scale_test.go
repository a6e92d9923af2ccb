package store

import (
	"errors"
	"testing"
)

func TestScale_SetDropAndRemoval(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Scales("shop", "production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("scales of an unknown env: %v", err)
	}
	must[Release](t)(s.CreateRelease(testRelease("shop", "production", "a1")))
	if got := must[map[string]Scale](t)(s.Scales("shop", "production")); len(got) != 0 {
		t.Fatalf("scales before any: %v", got)
	}
	if err := s.SetScales("shop", "production", []Scale{{Service: "web", Replicas: 3, File: 1, From: 1, By: "alice"}, {Service: "worker", Replicas: 0, File: 2, From: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetScales("shop", "production", []Scale{{Service: ""}}); err == nil {
		t.Fatal("a scale without a service was kept")
	}
	if err := s.SetScales("shop", "production", []Scale{{Service: "web", Replicas: 5, File: 1, From: 3, By: "bob"}}); err != nil {
		t.Fatal(err)
	}
	got := must[map[string]Scale](t)(s.Scales("shop", "production"))
	if w := got["web"]; w.Replicas != 5 || w.From != 3 || w.By != "bob" || w.At.IsZero() || len(got) != 2 {
		t.Fatalf("scales = %+v", got)
	}
	if err := s.DropScales("shop", "production"); err != nil {
		t.Fatal(err)
	}
	if got := must[map[string]Scale](t)(s.Scales("shop", "production")); len(got) != 2 {
		t.Fatalf("DropScales of no service dropped %+v", got)
	}
	if err := s.DropScales("shop", "production", "worker", "nosuch"); err != nil {
		t.Fatal(err)
	}
	if got := must[map[string]Scale](t)(s.Scales("shop", "production")); len(got) != 1 || got["web"].Replicas != 5 {
		t.Fatalf("after drop: %+v", got)
	}
	must[Removal](t)(s.MarkRemoved("shop", "production", 7))
	if got := must[map[string]Scale](t)(s.Scales("shop", "production")); len(got) != 0 {
		t.Fatalf("a removal kept the scales: %+v", got)
	}
}
