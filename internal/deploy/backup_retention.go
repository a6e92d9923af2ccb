package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Retain decides which of one volume's backups a retention policy
// keeps. Only whole backups (status ok) count; of them, newest first, it
// keeps the keep.Last newest, the newest of each of the keep.Daily
// newest days that have one, and the newest of each of the keep.Weekly
// newest ISO weeks that have one, days and weeks read in loc. The newest
// backup is always kept, whatever the policy. It returns the whole
// backups to drop, newest first; it is pure (no clock: a backup's age
// is its place among the others).
func Retain(backups []store.Backup, keep spec.Keep, loc *time.Location) []store.Backup {
	if loc == nil {
		loc = time.UTC
	}
	var ok []store.Backup
	for _, b := range backups {
		if b.Status == store.BackupOK {
			ok = append(ok, b)
		}
	}
	slices.SortStableFunc(ok, func(a, b store.Backup) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	kept := make([]bool, len(ok))
	for i := range ok {
		if i < keep.Last || i == 0 {
			kept[i] = true
		}
	}
	mark := func(n int, period func(time.Time) string) {
		seen := map[string]bool{}
		for i, b := range ok {
			if len(seen) >= n {
				return
			}
			p := period(b.StartedAt.In(loc))
			if !seen[p] {
				seen[p] = true
				kept[i] = true
			}
		}
	}
	mark(keep.Daily, func(t time.Time) string { return t.Format(time.DateOnly) })
	mark(keep.Weekly, func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	})
	var drop []store.Backup
	for i, b := range ok {
		if !kept[i] {
			drop = append(drop, b)
		}
	}
	return drop
}

// applyRetention removes the files of app/env's backups that app's
// policy no longer keeps, volume by volume, and records them deleted.
func (b *Backups) applyRetention(app, env string, a *spec.App, say func(string, ...any)) error {
	all, err := b.d.store.ListBackups(app, env)
	if err != nil {
		return err
	}
	p := a.BackupPolicyOrDefault()
	loc := time.UTC
	if p.Timezone != "" {
		if l, err := time.LoadLocation(p.Timezone); err == nil {
			loc = l
		}
	}
	byVolume := map[string][]store.Backup{}
	for _, bk := range all {
		byVolume[bk.Volume] = append(byVolume[bk.Volume], bk)
	}
	for _, vol := range slices.Sorted(mapsKeys(byVolume)) {
		for _, bk := range Retain(byVolume[vol], p.Keep, loc) {
			if err := b.removeFile(bk); err != nil {
				return fmt.Errorf("remove backup %d: %w", bk.ID, err)
			}
			bk.Status = store.BackupDeleted
			if err := b.d.store.UpdateBackup(bk); err != nil {
				return err
			}
			say("retention: removed backup %d of volume %s from %s (keep: last %d, daily %d, weekly %d)", bk.ID, vol, bk.StartedAt.UTC().Format(time.DateTime), p.Keep.Last, p.Keep.Daily, p.Keep.Weekly)
		}
	}
	return nil
}

// dirOf is the directory a backup's file is in.
func (b *Backups) dirOf(bk store.Backup) string {
	return b.destinationDir(spec.BackupPolicy{Destination: bk.Destination})
}

// Prune applies retention to every app environment with a live release
// (its x-berth.backups.keep, or the default), as a backup does after it
// is made, and returns the keys of the files it removed. The newest
// whole backup of each volume always stays.
func (b *Backups) Prune() ([]string, error) {
	lives, err := b.d.store.LiveReleaseIDs()
	if err != nil {
		return nil, err
	}
	removed := []string{}
	var errs []error
	for k := range lives {
		live, err := b.d.store.LiveRelease(k[0], k[1])
		if err != nil {
			continue // it changed meanwhile
		}
		before, err := b.d.store.ListBackups(k[0], k[1])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := b.applyRetention(k[0], k[1], &live.Spec, func(string, ...any) {}); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", k[0], k[1], err))
		}
		wasOK := map[int64]bool{}
		for _, bk := range before {
			wasOK[bk.ID] = bk.Status == store.BackupOK
		}
		after, _ := b.d.store.ListBackups(k[0], k[1])
		for _, bk := range after {
			if bk.Status == store.BackupDeleted && wasOK[bk.ID] {
				removed = append(removed, bk.Key)
			}
		}
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// removeFile removes a backup's file where it is.
func (b *Backups) removeFile(bk store.Backup) error {
	if n := s3Name(bk.Destination); n != "" {
		s, err := b.s3Of(n)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return s.remove(ctx, bk.Key)
	}
	return removeBackupFile(b.dirOf(bk), bk)
}
