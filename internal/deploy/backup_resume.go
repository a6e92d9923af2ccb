package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// FinishRestores settles the restores a previous berth was killed in
// the middle of: one killed while staging is cleared away (its volume
// was never touched); one killed while copying is finished from its
// staged copy, which the copy step can run again to the same end, and
// its services are started again. Each is an event. The daemon calls it
// at start, before it converges the apps and before self-healing runs.
func (b *Backups) FinishRestores(ctx context.Context) {
	js, err := b.d.store.Restorings()
	if err != nil {
		b.log.Error("list restores left in progress", "error", err)
		return
	}
	vio, ok := b.d.eng.(volumeIO)
	if !ok {
		return
	}
	for _, j := range js {
		log := b.log.With("app", j.App, "env", j.Env, "volume", j.Volume, "backup", j.Backup)
		var msg string
		switch j.Phase {
		case store.RestoreCopying:
			err := b.resumeCopy(ctx, j)
			if err != nil {
				log.Error("finish an interrupted restore", "error", err)
				msg = fmt.Sprintf("berth stopped while it restored backup %d of %s into %s, and could not finish the copy when it started again: %v; the volume may be partly copied: restore it again, or its state before (backup %d)", j.Backup, j.BackupEnv, j.Volume, err, j.Previous)
				if err := b.d.store.AppendEvent(j.App, j.Env, store.Event{Kind: EventRestored, Message: msg}); err != nil {
					log.Warn("record event", "error", err)
				}
				continue // the journal stays: the next start tries again
			}
			msg = fmt.Sprintf("berth stopped while it restored backup %d of %s into %s; it finished the restore when it started again", j.Backup, j.BackupEnv, j.Volume)
		default:
			msg = fmt.Sprintf("berth stopped while it staged backup %d of %s for a restore into %s; the volume was not touched: restore it again", j.Backup, j.BackupEnv, j.Volume)
		}
		if err := vio.RemoveVolume(ctx, j.Staged); err != nil {
			log.Warn("remove staging volume", "volume", j.Staged, "error", err)
		}
		if err := b.d.store.ClearRestoring(j.Volume); err != nil {
			log.Error("clear restore journal", "error", err)
		}
		if err := b.d.store.AppendEvent(j.App, j.Env, store.Event{Kind: EventRestored, Message: msg}); err != nil {
			log.Warn("record event", "error", err)
		}
		log.Info(msg)
	}
}

// resumeCopy finishes journal j's copy and starts its stopped
// containers again.
func (b *Backups) resumeCopy(ctx context.Context, j store.RestoreJournal) error {
	if _, err := b.d.eng.InspectVolume(ctx, j.Staged); err != nil {
		return fmt.Errorf("its staged copy %s: %w", j.Staged, err)
	}
	img, err := b.helper.image(ctx, b.d.eng, func(string, ...any) {})
	if err != nil {
		return err
	}
	unlock, err := b.d.tryLock(j.App, j.Env, kindRestore)
	if err != nil {
		return err
	}
	defer unlock()
	// What it stopped, and what runs now on the volume (a restart policy
	// may have started them with the engine).
	ids := append([]string(nil), j.Stopped...)
	if live, err := b.d.store.LiveRelease(j.App, j.Env); err == nil {
		for key := range mountedKeys(&live.Spec, j.Env, j.Volume) {
			ts, _ := b.stopTargets(ctx, live, j.Env, key)
			for _, t := range ts {
				if !slices.Contains(ids, t.c.ID) {
					ids = append(ids, t.c.ID)
				}
			}
		}
	}
	for _, id := range ids {
		_ = b.d.eng.StopContainer(ctx, id, 10*time.Second)
	}
	key := strings.TrimPrefix(j.Volume, j.App+"-"+j.Env+"-")
	if err := b.replace(ctx, j.App, j.Env, key, img, j.Staged, j.Volume, func(string, ...any) {}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := b.d.eng.StartContainer(ctx, id); err != nil {
			b.log.Warn("start a container again after a restore", "app", j.App, "env", j.Env, "container", id, "error", err)
		}
	}
	return nil
}

// mountedKeys are the keys of app's volumes whose engine name in env is
// name.
func mountedKeys(app *spec.App, env, name string) map[string]bool {
	out := map[string]bool{}
	keys, _ := volumeKeys(app, "")
	for _, k := range keys {
		if EngineVolumeName(app, env, k) == name {
			out[k] = true
		}
	}
	return out
}
