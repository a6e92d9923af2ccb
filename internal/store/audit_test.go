package store

import (
	"testing"
	"time"
)

// The audit log lists newest first, filters by app, actor and time, and
// PruneAudit drops exactly the entries older than its cut.
func TestStore_AuditAppendListPrune(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(at time.Time, actor, action, app string) {
		t.Helper()
		if _, err := s.AppendAudit(AuditEntry{Time: at, Actor: actor, Action: action, App: app, Outcome: AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
	add(t0, "admin-token", "deploy", "shop")
	add(t0, "ci", "deploy", "blog") // same instant: the sequence orders them
	add(t0.Add(time.Hour), "ci", "rollback", "shop")
	add(t0.Add(48*time.Hour), "admin-token", "prune", "")

	actions := func(f AuditFilter) []string {
		t.Helper()
		es, err := s.ListAudit(f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Action+"/"+e.App)
		}
		return out
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %v, want %v", name, got, want)
				return
			}
		}
	}
	check("all", actions(AuditFilter{}), "prune/", "rollback/shop", "deploy/blog", "deploy/shop")
	check("app", actions(AuditFilter{App: "shop"}), "rollback/shop", "deploy/shop")
	check("actor", actions(AuditFilter{Actor: "ci"}), "rollback/shop", "deploy/blog")
	check("since", actions(AuditFilter{Since: t0.Add(time.Hour)}), "prune/", "rollback/shop")
	check("limit", actions(AuditFilter{Limit: 2}), "prune/", "rollback/shop")

	n, err := s.PruneAudit(t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit: %d, %v; want 2", n, err)
	}
	check("after prune", actions(AuditFilter{}), "prune/", "rollback/shop")
}
