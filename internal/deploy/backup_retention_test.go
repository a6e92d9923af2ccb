package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Forty days of backups every eight hours, the policy applied after each
// one as berth applies it: exactly the backups it keeps remain.
func TestRetain_FortyDaysKeepExactlyThePolicy(t *testing.T) {
	t.Parallel()
	keep := spec.Keep{Last: 3, Daily: 7, Weekly: 4}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // a Thursday
	end := now.AddDate(0, 0, 40)
	var kept []store.Backup
	var id int64
	failed := 0
	for ; now.Before(end); now = now.Add(8 * time.Hour) {
		id++
		kept = append(kept, store.Backup{ID: id, Volume: "data", StartedAt: now, Status: store.BackupOK})
		if id%10 == 0 { // failed backups neither count nor go
			id++
			failed++
			kept = append(kept, store.Backup{ID: id, Volume: "data", StartedAt: now.Add(time.Minute), Status: store.BackupFailed})
		}
		drop := Retain(kept, keep, time.UTC)
		kept = slices.DeleteFunc(kept, func(b store.Backup) bool {
			return slices.ContainsFunc(drop, func(d store.Backup) bool { return d.ID == b.ID })
		})
	}
	var got []string
	for _, b := range kept {
		if b.Status == store.BackupOK {
			got = append(got, b.StartedAt.Format("Jan 2 15:04"))
		}
	}
	slices.Reverse(got)
	want := []string{
		"Feb 9 16:00", "Feb 9 08:00", "Feb 9 00:00", // last 3 (Feb 9 is a Monday: week 7's newest too)
		"Feb 8 16:00", "Feb 7 16:00", "Feb 6 16:00", "Feb 5 16:00", "Feb 4 16:00", "Feb 3 16:00", // daily 7 with Feb 9
		"Feb 1 16:00", "Jan 25 16:00", // weekly 4: weeks 7, 6 (Feb 8), 5 (Feb 1), 4 (Jan 25)
	}
	if !slices.Equal(got, want) {
		t.Errorf("kept after 40 days:\n got %q\nwant %q", got, want)
	}
	if n := len(kept) - len(got); n != failed || failed == 0 {
		t.Errorf("%d failed backups kept, want all %d", n, failed)
	}
}

func TestRetain_NewestIsAlwaysKept(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bs := []store.Backup{
		{ID: 1, StartedAt: t0, Status: store.BackupOK},
		{ID: 2, StartedAt: t0.Add(time.Hour), Status: store.BackupOK},
		{ID: 3, StartedAt: t0.Add(2 * time.Hour), Status: store.BackupFailed},
		{ID: 4, StartedAt: t0.Add(-time.Hour), Status: store.BackupDeleted},
	}
	drop := Retain(bs, spec.Keep{}, nil)
	if len(drop) != 1 || drop[0].ID != 1 {
		t.Fatalf("keep nothing: dropped %+v, want only backup 1 (2 is the newest whole one)", drop)
	}
	if drop := Retain(bs[:1], spec.Keep{}, nil); len(drop) != 0 {
		t.Fatalf("the only backup dropped: %+v", drop)
	}
}

func TestRetain_DaysAreReadInTheTimezone(t *testing.T) {
	t.Parallel()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	// 14:00 and 16:00 UTC on March 1 are one day in UTC, two in Tokyo
	// (23:00 on the 1st, 01:00 on the 2nd).
	bs := []store.Backup{
		{ID: 1, StartedAt: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), Status: store.BackupOK},
		{ID: 2, StartedAt: time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC), Status: store.BackupOK},
	}
	if drop := Retain(bs, spec.Keep{Daily: 2}, time.UTC); len(drop) != 1 || drop[0].ID != 1 {
		t.Errorf("UTC: dropped %+v, want backup 1", drop)
	}
	if drop := Retain(bs, spec.Keep{Daily: 2}, tokyo); len(drop) != 0 {
		t.Errorf("Tokyo: dropped %+v, want none", drop)
	}
}

// berth prune removes the files retention no longer keeps, and never a
// volume's newest backup, even with a policy that keeps nothing more.
func TestBackups_PruneKeepsTheNewest(t *testing.T) {
	t.Parallel()
	d := New(Options{Engine: enginetest.NewFake(), Store: newTestStore(t), Proxy: proxy.New(proxy.Options{})})
	t.Cleanup(d.Close)
	dir := t.TempDir()
	b := d.NewBackups(BackupOptions{Dir: dir})
	app := spec.App{Name: "shop", Services: []spec.Service{{Name: "db", Image: "db:1", Replicas: 1}},
		Backups: &spec.BackupPolicy{Keep: spec.Keep{Daily: 1}}}
	rel, err := d.store.CreateRelease(store.Release{App: "shop", Env: "production", Spec: app, Services: map[string]store.ServiceImage{"db": {Image: "db:1", ImageID: "sha256:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.store.Activate("shop", "production", rel.ID, store.StatusSuperseded); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	var made []store.Backup
	for i, at := range []time.Duration{0, time.Hour, 48 * time.Hour} { // two on day 1, one on day 3
		bk, err := d.store.CreateBackup(store.Backup{App: "shop", Env: "production", Volume: "data", Kind: store.BackupSnapshot, StartedAt: t0.Add(at), Status: store.BackupOK, Destination: spec.DestinationLocal})
		if err != nil {
			t.Fatal(err)
		}
		bk.Key = backupKey(bk)
		if _, _, err := writeBackup(dir, bk.Key, strings.NewReader(strings.Repeat("x", i+1))); err != nil {
			t.Fatal(err)
		}
		if err := d.store.UpdateBackup(bk); err != nil {
			t.Fatal(err)
		}
		made = append(made, bk)
	}
	removed, err := b.Prune()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{made[0].Key, made[1].Key}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want the two older backups", removed)
	}
	for i, bk := range made {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(bk.Key)))
		got, _ := d.store.GetBackup("shop", "production", bk.ID)
		if i == 2 && (err != nil || got.Status != store.BackupOK) {
			t.Errorf("the newest backup went: %v %s", err, got.Status)
		}
		if i < 2 && (!os.IsNotExist(err) || got.Status != store.BackupDeleted) {
			t.Errorf("backup %d stayed: %v %s", bk.ID, err, got.Status)
		}
	}
	if again, _ := b.Prune(); len(again) != 0 {
		t.Fatalf("a second prune removed %v", again)
	}
}
