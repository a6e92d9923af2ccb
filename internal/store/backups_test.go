package store

import (
	"errors"
	"testing"
	"time"
)

func TestStore_BackupsAreNumberedPerEnvironment(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	for _, env := range []string{"production", "staging"} {
		if err := s.EnsureEnv("shop", env); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.CreateBackup(Backup{App: "shop", Env: "production", Volume: "data", Kind: BackupSnapshot, Release: 4, Trigger: TriggerManual, Destination: "local"})
	if err != nil || a.ID != 1 || a.Status != BackupRunning || a.StartedAt.IsZero() {
		t.Fatalf("first backup %+v %v", a, err)
	}
	b, _ := s.CreateBackup(Backup{App: "shop", Env: "production", Volume: "uploads", Kind: BackupSnapshot, Trigger: TriggerSchedule})
	c, _ := s.CreateBackup(Backup{App: "shop", Env: "staging", Volume: "data", Kind: BackupDump})
	if b.ID != 2 || c.ID != 1 {
		t.Fatalf("numbers: production %d, staging %d", b.ID, c.ID)
	}
	a.Status, a.Size, a.SHA256, a.Key = BackupOK, 1234, "ab", "shop/production/x.tar.gz"
	if err := s.UpdateBackup(a); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBackup("shop", "production", 1)
	if err != nil || got.Status != BackupOK || got.Size != 1234 || got.Key != a.Key {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, err := s.ListBackups("shop", "production")
	if err != nil || len(list) != 2 || list[0].ID != 2 || list[1].ID != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	running, err := s.RunningBackups()
	if err != nil || len(running) != 2 {
		t.Fatalf("running: %+v %v", running, err)
	}
	if _, err := s.GetBackup("shop", "production", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing backup: %v", err)
	}
	if err := s.UpdateBackup(Backup{App: "shop", Env: "production", ID: 9}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing backup: %v", err)
	}
	if l, err := s.ListBackups("shop", "nowhere"); !errors.Is(err, ErrNotFound) || len(l) != 0 {
		t.Fatalf("list of a missing env: %v %v", l, err)
	}
	if st, err := s.GetBackupState("shop", "production"); err != nil || !st.Last.IsZero() {
		t.Fatalf("state before any: %+v %v", st, err)
	}
	at := time.Date(2026, 5, 1, 2, 30, 0, 0, time.UTC)
	if err := s.SetBackupState("shop", "production", JobState{Last: at, Skipped: 2}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.GetBackupState("shop", "production"); err != nil || !st.Last.Equal(at) || st.Skipped != 2 {
		t.Fatalf("state: %+v %v", st, err)
	}
	if st, _ := s.GetBackupState("shop", "staging"); !st.Last.IsZero() {
		t.Fatalf("staging shares production's state: %+v", st)
	}
}

func TestStore_RestoreJournal(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	j := RestoreJournal{App: "shop", Env: "production", BackupEnv: "production", Backup: 3, Volume: "shop-production-data", Staged: "shop-production-data-restore-1", Phase: RestoreStaging}
	if err := s.SetRestoring(j); err != nil {
		t.Fatal(err)
	}
	j.Phase, j.Stopped = RestoreCopying, []string{"c1"}
	if err := s.SetRestoring(j); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRestoring(RestoreJournal{Volume: "other", Phase: RestoreStaging}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Restorings()
	if err != nil || len(all) != 2 || all[1].Phase != RestoreCopying || all[1].Stopped[0] != "c1" {
		t.Fatalf("restorings: %+v %v", all, err)
	}
	if err := s.ClearRestoring("shop-production-data"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Restorings(); len(all) != 1 || all[0].Volume != "other" {
		t.Fatalf("after clear: %+v", all)
	}
}
