package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Scheduled backups (x-berth.backups.schedule): planned as scheduled
// jobs are (PlanJobs: a new schedule is armed and waits for its first
// slot; the slots missed while berth was down are backed up once, and
// said so; a slot due while the environment's backup still runs is
// skipped), run from the live release's definition, each a backup of
// every named volume with trigger schedule. A failed one is an event
// and a notification, as any failed backup is.

// backupJob names an app environment's schedule among PlanJobs' keys.
const backupJob = "backups"

// busyRetry bounds how long a scheduled backup waits for a deploy (or
// another holder of the app environment) to finish.
const busyRetry = 5 * time.Minute

type backupSchedule struct {
	mu      sync.Mutex
	running map[[2]string]bool
	runs    sync.WaitGroup
}

// Run makes the scheduled backups until ctx ends, looking every tick,
// then waits for the ones going. Backups a previous berth left running
// are recorded as failed first.
func (b *Backups) Run(ctx context.Context, tick time.Duration) {
	b.recover()
	if tick <= 0 {
		tick = 10 * time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		b.scheduleTick(ctx)
		select {
		case <-ctx.Done():
			b.sched.runs.Wait()
			return
		case <-t.C:
		}
	}
}

// recover records the backups a previous berth left running as failed
// and removes their partial files.
func (b *Backups) recover() {
	left, err := b.d.store.RunningBackups()
	if err != nil {
		b.log.Error("list backups left running", "error", err)
		return
	}
	for _, bk := range left {
		if bk.Key != "" {
			_ = removeBackupFile(b.dirOf(bk), store.Backup{Key: bk.Key + ".partial"})
		}
		bk.Status, bk.Error, bk.Key, bk.EndedAt = store.BackupFailed, "berth stopped while it ran: make another", "", b.d.now().UTC()
		if err := b.d.store.UpdateBackup(bk); err != nil {
			b.log.Error("record a backup left running", "app", bk.App, "env", bk.Env, "backup", bk.ID, "error", err)
			continue
		}
		b.failed(bk)
	}
}

// scheduleTick plans every live release's backup schedule at now and
// starts the due backups.
func (b *Backups) scheduleTick(ctx context.Context) {
	lives, err := b.d.store.LiveReleaseIDs()
	if err != nil {
		b.log.Warn("scheduled backups: list live releases", "error", err)
		return
	}
	var states []JobState
	for k := range lives {
		live, err := b.d.store.LiveRelease(k[0], k[1])
		if err != nil || live.Spec.Backups == nil || strings.TrimSpace(live.Spec.Backups.Schedule) == "" {
			continue
		}
		p := live.Spec.Backups
		sched, err := spec.ParseCron(strings.TrimSpace(p.Schedule), p.Timezone)
		if err != nil {
			continue // refused at deploy; a release read back is the same
		}
		st, err := b.d.store.GetBackupState(k[0], k[1])
		if err != nil {
			continue
		}
		b.sched.mu.Lock()
		running := 0
		if b.sched.running[k] {
			running = 1
		}
		b.sched.mu.Unlock()
		states = append(states, JobState{Key: JobKey{App: k[0], Env: k[1], Name: backupJob}, Schedule: sched,
			Concurrency: spec.ConcurrencyForbid, Last: st.Last, Running: running})
	}
	decisions, _ := PlanJobs(states, b.d.now(), 30*time.Second)
	for _, dec := range decisions {
		k := [2]string{dec.Key.App, dec.Key.Env}
		st, _ := b.d.store.GetBackupState(k[0], k[1])
		st.Last = dec.Slot
		switch dec.Action {
		case JobSkip:
			st.Skipped++
			st.SkippedAt = dec.Slot
			b.log.Warn("scheduled backup skipped: the previous one still runs", "app", k[0], "env", k[1], "slot", dec.Slot)
		case JobStart:
			st.Skipped = 0
		}
		if err := b.d.store.SetBackupState(k[0], k[1], st); err != nil {
			b.log.Error("record backup schedule", "app", k[0], "env", k[1], "error", err)
			continue
		}
		if dec.Action != JobStart {
			continue
		}
		note := ""
		if dec.Late {
			note = fmt.Sprintf(" (late: it stands for %d slot(s) missed since %s)", dec.Missed+1, dec.First.UTC().Format(time.DateTime))
		}
		b.sched.mu.Lock()
		b.sched.running[k] = true
		b.sched.mu.Unlock()
		b.sched.runs.Add(1)
		go func() {
			defer b.sched.runs.Done()
			defer func() {
				b.sched.mu.Lock()
				delete(b.sched.running, k)
				b.sched.mu.Unlock()
			}()
			b.scheduled(ctx, k[0], k[1], dec.Slot, note)
		}()
	}
}

// scheduled makes one scheduled backup of app/env, waiting for a deploy
// that holds it (up to busyRetry); one that cannot start is recorded
// failed.
func (b *Backups) scheduled(ctx context.Context, app, env string, slot time.Time, note string) {
	log := b.log.With("app", app, "env", env, "slot", slot)
	log.Info("scheduled backup" + note)
	say := func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }
	deadline := b.d.now().Add(busyRetry)
	for {
		made, err := b.Backup(ctx, BackupRequest{App: app, Env: env, Trigger: store.TriggerSchedule}, say)
		switch {
		case err == nil, ctx.Err() != nil:
			return
		case errors.Is(err, ErrBusy) && b.d.now().Before(deadline):
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Second):
			}
			continue
		case len(made) == 0:
			// It never started: record it, so it is seen and told.
			rec, cerr := b.d.store.CreateBackup(store.Backup{App: app, Env: env, Trigger: store.TriggerSchedule, Status: store.BackupFailed,
				Error: err.Error(), StartedAt: slot, EndedAt: b.d.now().UTC(), Destination: spec.DestinationLocal})
			if cerr == nil {
				b.failed(rec)
			}
		}
		log.Warn("scheduled backup failed", "error", err)
		return
	}
}
