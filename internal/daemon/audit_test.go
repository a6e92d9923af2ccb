package daemon

import (
	"log/slog"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

// The prune keeps exactly the entries younger than the retention, a
// year by default.
func TestPruneAudit_DropsEntriesOlderThanTheRetention(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, age := range []time.Duration{400 * 24 * time.Hour, 364 * 24 * time.Hour, 2 * time.Hour, time.Minute} {
		if _, err := st.AppendAudit(store.AuditEntry{Time: now.Add(-age), Action: age.String(), Outcome: store.AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		t.Helper()
		es, err := st.ListAudit(store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	log := slog.New(slog.DiscardHandler)
	pruneAudit(st, 0, now, log)
	if n := count(); n != 3 {
		t.Errorf("after the default retention: %d entries, want 3", n)
	}
	pruneAudit(st, time.Hour, now, log)
	if n := count(); n != 1 {
		t.Errorf("after --audit-retention 1h: %d entries, want 1", n)
	}
}
