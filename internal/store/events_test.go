package store

import "testing"

func TestStore_EventsKeepTheNewest(t *testing.T) {
	s, _ := openTest(t)
	if err := s.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MaxEvents+20; i++ {
		if err := s.AppendEvent("shop", "production", Event{Kind: "died", Message: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListEvents("shop", "production", 0)
	if err != nil || len(all) != MaxEvents || all[0].ID != MaxEvents+20 || all[len(all)-1].ID != 21 {
		t.Fatalf("kept %d events, newest %d oldest %d (%v)", len(all), all[0].ID, all[len(all)-1].ID, err)
	}
	if few, _ := s.ListEvents("shop", "production", 3); len(few) != 3 || few[0].ID != MaxEvents+20 {
		t.Fatalf("limit: %+v", few)
	}
	if err := s.AppendEvent("nope", "production", Event{}); err == nil {
		t.Fatal("event of an unknown app")
	}
}
