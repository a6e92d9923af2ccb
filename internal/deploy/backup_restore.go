package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Restores. A snapshot is restored in three steps, so that a failure
// leaves the volume as it was:
//  1. the current state of the target volume is backed up first (a
//     backup with trigger restore), and the backup's file is checked
//     whole (size and sha256 as recorded);
//  2. the backup is extracted into a fresh staging volume (a damaged
//     file, an interrupted copy or a full disk fail here, and the
//     target volume is untouched);
//  3. the services that mount the volume are stopped, the helper makes
//     the volume a copy of the staged one (volhelper.Replace, which can
//     be run again to the same end), and they are started again.
// A dump (x-berth.backup) is loaded back by its service's restore
// command, in its running container, after the same backup first.

// EventRestored is the kind of the event a restore records.
const EventRestored = "restored"

// RestoreRequest says what to restore, and where.
type RestoreRequest struct {
	// App and Env are the backup's app and environment.
	App, Env string
	// Backup is the backup's number; 0 picks the newest whole backup of
	// Volume.
	Backup int64
	// Volume is the volume's key; with Backup set it must be the
	// backup's.
	Volume string
	// ToEnv is the environment whose volume gets the data; empty: Env.
	ToEnv string
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Backup store.Backup
	// Previous is the backup of the state the restore replaced (nil when
	// the volume did not exist).
	Previous *store.Backup
	Env      string // where it was restored
	Volume   string // the engine's name of the restored volume
	// Restarted are the services stopped and started again.
	Restarted []string
}

// Restore restores a backup into its volume, or into the same volume of
// another environment (ToEnv), saying what it does on say.
func (b *Backups) Restore(ctx context.Context, req RestoreRequest, say func(string, ...any)) (RestoreResult, error) {
	if req.Env == "" {
		req.Env = spec.DefaultEnv
	}
	if req.ToEnv == "" {
		req.ToEnv = req.Env
	}
	if err := b.usable(); err != nil {
		return RestoreResult{}, err
	}
	bk, err := b.pick(req)
	if err != nil {
		return RestoreResult{}, err
	}
	target, live, err := b.restoreTarget(bk, req.ToEnv)
	if err != nil {
		return RestoreResult{}, err
	}
	name := EngineVolumeName(target, req.ToEnv, bk.Volume)
	if req.ToEnv != bk.Env && name == bk.EngineName {
		return RestoreResult{}, fmt.Errorf("%w: volume %s has a fixed name (name: or external: in the Compose file), so %s and %s share it: restoring it into %s would replace %s's data too", ErrInvalid, name, bk.Env, req.ToEnv, req.ToEnv, bk.Env)
	}
	unlock, err := b.d.tryLock(bk.App, req.ToEnv, kindRestore)
	if err != nil {
		return RestoreResult{}, err
	}
	defer unlock()
	res := RestoreResult{Backup: bk, Env: req.ToEnv, Volume: name}
	say("restoring backup %d (volume %s of %s/%s, release %d, %s) into %s of %s/%s", bk.ID, bk.Volume, bk.App, bk.Env, bk.Release, bk.StartedAt.UTC().Format(time.DateTime), name, bk.App, req.ToEnv)
	if bk.Kind == store.BackupDump {
		err = b.restoreDump(ctx, bk, target, live, req.ToEnv, &res, say)
	} else {
		err = b.restoreSnapshot(ctx, bk, target, live, req.ToEnv, name, &res, say)
	}
	if err != nil {
		return res, err
	}
	msg := fmt.Sprintf("backup %d of %s (volume %s, release %d) restored into %s", bk.ID, bk.Env, bk.Volume, bk.Release, name)
	if res.Previous != nil {
		msg += fmt.Sprintf("; the state it replaced is backup %d", res.Previous.ID)
	}
	if err := b.d.store.AppendEvent(bk.App, req.ToEnv, store.Event{Kind: EventRestored, Message: msg}); err != nil {
		b.log.Warn("record event", "app", bk.App, "env", req.ToEnv, "error", err)
	}
	say("%s", msg)
	return res, nil
}

// pick finds the backup a request names.
func (b *Backups) pick(req RestoreRequest) (store.Backup, error) {
	if req.Backup > 0 {
		bk, err := b.d.store.GetBackup(req.App, req.Env, req.Backup)
		if err != nil {
			return bk, fmt.Errorf("%w (berth backups %s --env %s lists them)", err, req.App, req.Env)
		}
		if req.Volume != "" && req.Volume != bk.Volume {
			return bk, fmt.Errorf("%w: backup %d is of volume %s, not %s: leave out --volume, or pick a backup of %s", ErrInvalid, bk.ID, bk.Volume, req.Volume, req.Volume)
		}
		if bk.Status != store.BackupOK {
			return bk, fmt.Errorf("%w: backup %d is %s (%s), and only a whole backup can be restored: pick another (berth backups %s --env %s)", ErrInvalid, bk.ID, bk.Status, bk.Error, req.App, req.Env)
		}
		return bk, nil
	}
	all, err := b.d.store.ListBackups(req.App, req.Env)
	if err != nil {
		return store.Backup{}, err
	}
	vols := map[string]bool{}
	for _, bk := range all {
		if bk.Status == store.BackupOK {
			vols[bk.Volume] = true
		}
	}
	if req.Volume == "" && len(vols) > 1 {
		return store.Backup{}, fmt.Errorf("%w: %s/%s has backups of several volumes (%s): name one with --volume", ErrInvalid, req.App, req.Env, listOr(sortedSet(vols), ""))
	}
	for _, bk := range all { // newest first
		if bk.Status == store.BackupOK && (req.Volume == "" || bk.Volume == req.Volume) {
			return bk, nil
		}
	}
	return store.Backup{}, fmt.Errorf("%w: %s/%s has no whole backup%s to restore (berth backup %s --env %s makes one)", store.ErrNotFound, req.App, req.Env, ofVolume(req.Volume), req.App, req.Env)
}

func ofVolume(v string) string {
	if v == "" {
		return ""
	}
	return " of volume " + v
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sortStrings(out)
}

func sortStrings(l []string) []string {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j] < l[j-1]; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
	return l
}

// restoreTarget is the definition the target environment has: its live
// release's, else the one the backup was made with; live is its live
// release (ID 0 when it has none).
func (b *Backups) restoreTarget(bk store.Backup, env string) (*spec.App, store.Release, error) {
	live, err := b.d.store.LiveRelease(bk.App, env)
	if err == nil {
		if _, err := volumeKeys(&live.Spec, bk.Volume); err != nil {
			return nil, live, fmt.Errorf("%w: release %d live in %s/%s mounts no volume %s", ErrInvalid, live.ID, bk.App, env, bk.Volume)
		}
		return &live.Spec, live, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, live, err
	}
	rel, err := b.d.store.GetRelease(bk.App, bk.Env, bk.Release)
	if err != nil {
		return nil, live, fmt.Errorf("%s/%s has no live release, and release %d the backup was made with is gone: deploy %s to %s first, then restore: %w", bk.App, env, bk.Release, bk.App, env, err)
	}
	if err := b.d.store.EnsureEnv(bk.App, env); err != nil {
		return nil, live, err
	}
	a := rel.Spec
	return &a, store.Release{App: bk.App, Env: env, Spec: a}, nil
}

// backupFirst records the state a restore replaces as a backup.
func (b *Backups) backupFirst(ctx context.Context, live store.Release, env, key string, res *RestoreResult, say func(string, ...any)) error {
	say("first, a backup of the state the restore replaces")
	prev, err := b.backupVolume(ctx, live, env, key, store.TriggerRestore, say)
	if err != nil {
		return fmt.Errorf("could not back up the current state first, so nothing was restored: %w", err)
	}
	res.Previous = &prev
	return nil
}

func (b *Backups) restoreSnapshot(ctx context.Context, bk store.Backup, target *spec.App, live store.Release, env, name string, res *RestoreResult, say func(string, ...any)) error {
	vio := b.d.eng.(volumeIO)
	dir, done, err := b.fetched(ctx, bk)
	if err != nil {
		return err
	}
	defer done()
	data, err := openBackup(dir, bk)
	if err != nil {
		return err
	}
	defer data.Close()
	say("backup %d's file is whole: %s, sha256 %s", bk.ID, humanBytes(bk.Size), short(bk.SHA256))
	def, _ := target.Volume(bk.Volume)
	def.Key = bk.Volume
	switch _, err := b.d.eng.InspectVolume(ctx, name); {
	case errors.Is(err, engine.ErrNotFound):
		if def.External {
			return fmt.Errorf("%w: external volume %s does not exist: create it (docker volume create %s), then restore", ErrInvalid, name, name)
		}
		if _, err := b.d.eng.EnsureVolume(ctx, volumeSpec(target, env, name, def)); err != nil {
			return err
		}
		say("volume %s did not exist: created it", name)
	case err != nil:
		return err
	default:
		if err := b.backupFirst(ctx, noHooks(live), env, bk.Volume, res, say); err != nil {
			return err
		}
	}
	img, err := b.helper.image(ctx, b.d.eng, say)
	if err != nil {
		return err
	}
	staged := fmt.Sprintf("%s-restore-%s", name, randomSuffix())
	if _, err := b.d.eng.EnsureVolume(ctx, engine.VolumeSpec{Name: staged, Labels: map[string]string{engine.LabelManaged: "true", engine.LabelApp: bk.App, engine.LabelEnv: env, LabelRestoreOf: name}}); err != nil {
		return fmt.Errorf("create the staging volume: %w", err)
	}
	j := store.RestoreJournal{App: bk.App, Env: env, BackupEnv: bk.Env, Backup: bk.ID, Volume: name, Staged: staged, Phase: store.RestoreStaging, StartedAt: b.d.now().UTC()}
	if res.Previous != nil {
		j.Previous = res.Previous.ID
	}
	if err := b.d.store.SetRestoring(j); err != nil {
		_ = vio.RemoveVolume(context.WithoutCancel(ctx), staged)
		return err
	}
	// Whatever ends the restore here clears the journal and the staged
	// copy; only a berth that dies leaves them, for its next start.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
		defer cancel()
		if err := vio.RemoveVolume(rctx, staged); err != nil {
			b.log.Warn("remove staging volume", "volume", staged, "error", err)
		}
		if err := b.d.store.ClearRestoring(name); err != nil {
			b.log.Error("clear restore journal", "volume", name, "error", err)
		}
	}()
	say("staging backup %d in a fresh volume %s", bk.ID, staged)
	if err := b.stage(ctx, bk, env, img, staged, data); err != nil {
		return fmt.Errorf("staging failed, so volume %s was not touched: %w", name, err)
	}
	// From here on the copy is finished whatever happens to the request:
	// a restore that stopped half-way would leave the volume half
	// copied. Should berth itself die, the journal has it finish the copy
	// at its next start (finishRestores).
	ctx = context.WithoutCancel(ctx)
	targets, err := b.stopTargets(ctx, live, env, bk.Volume)
	if err != nil {
		return err
	}
	j.Phase = store.RestoreCopying
	for _, t := range targets {
		j.Stopped = append(j.Stopped, t.c.ID)
	}
	if err := b.d.store.SetRestoring(j); err != nil {
		return err
	}
	down, err := b.stopFor(ctx, targets, say)
	defer b.startAgain(ctx, down, res, say)
	if err != nil {
		return err
	}
	if err := b.replace(ctx, bk.App, env, bk.Volume, img, staged, name, say); err != nil {
		prev := ""
		if res.Previous != nil {
			prev = fmt.Sprintf("; its state before is backup %d: berth restore %s %d --env %s", res.Previous.ID, bk.App, res.Previous.ID, env)
		}
		return fmt.Errorf("copying the staged backup into volume %s failed, and the volume may be partly copied: %w%s", name, err, prev)
	}
	return nil
}

// replace has the helper make volume name a copy of staged (tried
// twice).
func (b *Backups) replace(ctx context.Context, app, env, key, img, staged, name string, say func(string, ...any)) error {
	var last error
	for attempt := 1; attempt <= 2; attempt++ {
		hs := b.helperSpec(app, env, "restore-"+key, img, []string{"replace", "/src", "/dst"},
			engine.Mount{Type: "volume", Source: staged, Target: "/src", ReadOnly: true},
			engine.Mount{Type: "volume", Source: name, Target: "/dst"})
		code, err := engine.RunOnce(ctx, b.d.eng, hs, func(line string) { say("  helper | %s", line) })
		if err == nil && code == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("the helper exited with code %d", code)
		}
		last = err
		if attempt == 1 {
			say("copying into %s failed (%v); trying once more", name, err)
		}
	}
	return last
}

// stage extracts a backup into the staging volume through a helper
// container that never starts.
func (b *Backups) stage(ctx context.Context, bk store.Backup, env, img, staged string, data io.Reader) error {
	vio := b.d.eng.(volumeIO)
	c, err := b.d.eng.CreateContainer(ctx, b.helperSpec(bk.App, env, "stage-"+bk.Volume, img, nil,
		engine.Mount{Type: "volume", Source: staged, Target: "/volume"}))
	if c.ID != "" {
		defer b.removeHelper(ctx, c.ID)
	}
	if err != nil {
		return err
	}
	if b.stageHook != nil {
		data = b.stageHook(data)
	}
	return vio.CopyTo(ctx, c.ID, "/volume", data)
}

// noHooks is live with the dump hooks off: the state a snapshot restore
// replaces is backed up as a snapshot, whatever the hooks say.
func noHooks(live store.Release) store.Release {
	a := live.Spec
	a.Services = append([]spec.Service(nil), live.Spec.Services...)
	for i := range a.Services {
		if a.Services[i].Backup.Hooked() {
			a.Services[i].Backup = nil
		}
	}
	live.Spec = a
	return live
}

// stopped is a container a restore stopped, to start again.
type stopped struct {
	service string
	c       engine.Container
	grace   time.Duration
}

// stopTargets are the running containers of the services of live that
// mount volume key: what a restore into it stops.
func (b *Backups) stopTargets(ctx context.Context, live store.Release, env, key string) ([]stopped, error) {
	var out []stopped
	if live.ID == 0 {
		return nil, nil
	}
	for _, s := range live.Spec.Services {
		if !mounts(s, key) {
			continue
		}
		cs, err := b.serviceContainers(ctx, live, env, s.Name)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, stopped{service: s.Name, c: c, grace: s.StopGracePeriod.D() + time.Second})
		}
	}
	return out, nil
}

// stopFor stops targets, saying which services; it returns the ones it
// stopped.
func (b *Backups) stopFor(ctx context.Context, targets []stopped, say func(string, ...any)) ([]stopped, error) {
	counts := map[string]int{}
	var order []string
	for _, t := range targets {
		if counts[t.service] == 0 {
			order = append(order, t.service)
		}
		counts[t.service]++
	}
	for _, svc := range order {
		say("stopping %s (%d container(s)) for the restore; it starts again after", svc, counts[svc])
	}
	var out []stopped
	for _, t := range targets {
		if err := b.d.eng.StopContainer(ctx, t.c.ID, t.grace); err != nil {
			return out, fmt.Errorf("stop %s: %w", t.c.Name, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// startAgain starts the containers stopFor stopped.
func (b *Backups) startAgain(ctx context.Context, cs []stopped, res *RestoreResult, say func(string, ...any)) {
	seen := map[string]bool{}
	for _, s := range cs {
		if err := b.d.eng.StartContainer(ctx, s.c.ID); err != nil {
			say("could not start %s again: %v; berth replaces it (berth status %s)", s.c.Name, err, res.Backup.App)
			b.d.heal.mu.Lock()
			b.d.heal.suspects[lockKey(res.Backup.App, res.Env)] = true
			b.d.heal.mu.Unlock()
			continue
		}
		if !seen[s.service] {
			seen[s.service] = true
			res.Restarted = append(res.Restarted, s.service)
		}
	}
	if len(res.Restarted) > 0 {
		say("started %s again", strings.Join(res.Restarted, ", "))
	}
}
