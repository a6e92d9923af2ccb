package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Backups of an app environment's named volumes (issue 19). A volume
// whose service declares a dump hook (x-berth.backup.command) is backed
// up by running it in the service's running container and copying out
// the file it wrote; any other volume by a snapshot: a tar of its files
// read through a helper container that mounts it read-only and never
// starts (its service paused meanwhile when x-berth.backup.pause says
// so). Each backup is one gzip file with a sha256, recorded in the
// store; retention (x-berth.backups.keep) removes the files of older
// ones, never the newest. Restores are restore.go's.
//
// Backups and restores hold the app environment's lock, as a deploy
// does: no deploy, heal or reconcile changes its containers meanwhile.

// Lock kinds of backups and restores (they record no deployment).
const (
	kindBackup  store.DeploymentKind = "backup"
	kindRestore store.DeploymentKind = "restore"
)

// Labels of the helper containers and staged volumes.
const (
	// LabelBackupHelper marks a helper container (with LabelOneOff,
	// which reconcile leaves alone).
	LabelBackupHelper = "berth.backup.helper"
	// LabelRestoreOf marks a volume staged for a restore with the
	// engine name of the volume it is for.
	LabelRestoreOf = "berth.restore.of"
)

// EventBackupFailed is the kind of the event (and notification) a
// failed backup records.
const EventBackupFailed = "backup_failed"

// volumeIO is what backups need of the engine beyond engine.Engine: the
// one-host backend has it (engine/docker's archive.go).
type volumeIO interface {
	// Exec runs cmd in a running container, its output to out, and
	// returns its exit code.
	Exec(ctx context.Context, id string, cmd []string, out func(string)) (int, error)
	// CopyFrom returns a tar stream of path in a container.
	CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error)
	// CopyTo extracts a tar stream into dir of a container.
	CopyTo(ctx context.Context, id, dir string, r io.Reader) error
	// PauseContainer and UnpauseContainer freeze and resume a container.
	PauseContainer(ctx context.Context, id string) error
	UnpauseContainer(ctx context.Context, id string) error
	// RemoveVolume removes a volume; a missing one is not an error.
	RemoveVolume(ctx context.Context, name string) error
}

// BackupOptions configure Backups.
type BackupOptions struct {
	// Dir is the server's backup directory (destination local).
	Dir string
	// HelperBinary is a statically linked berth binary the helper image
	// is built from (berth server: its own).
	HelperBinary string
	Logger       *slog.Logger
	// OnFailure, when set, is told of every failed backup (the daemon's
	// notifications).
	OnFailure func(b store.Backup)
	// StageHook is a test hook, nil in use: it wraps the stream a
	// restore stages, so a test can break it half-way.
	StageHook func(io.Reader) io.Reader
}

// Backups makes, lists, prunes and restores backups of volumes.
type Backups struct {
	d         *Deployer
	dir       string
	helper    helperImage
	log       *slog.Logger
	onFailure func(store.Backup)
	stageHook func(io.Reader) io.Reader
	sched     backupSchedule // backup_schedule.go
}

// NewBackups returns the Deployer's backups.
func (d *Deployer) NewBackups(o BackupOptions) *Backups {
	if o.Logger == nil {
		o.Logger = d.log
	}
	return &Backups{d: d, dir: o.Dir, helper: helperImage{binary: o.HelperBinary}, log: o.Logger.With("component", "backups"), onFailure: o.OnFailure, stageHook: o.StageHook,
		sched: backupSchedule{running: map[[2]string]bool{}}}
}

// BackupRequest says what to back up.
type BackupRequest struct {
	App, Env string
	// Volume, when set, is the one volume (its Compose key) to back up;
	// empty: every named volume the live release mounts.
	Volume  string
	Trigger string // store.TriggerManual when empty
}

// Backup backs up app/env's named volumes (or the one named), saying
// what it does on say, and returns the backups it made. It goes on past
// a failed volume and returns every failure in its error.
func (b *Backups) Backup(ctx context.Context, req BackupRequest, say func(string, ...any)) ([]store.Backup, error) {
	if req.Env == "" {
		req.Env = spec.DefaultEnv
	}
	if req.Trigger == "" {
		req.Trigger = store.TriggerManual
	}
	if err := b.usable(); err != nil {
		return nil, err
	}
	unlock, err := b.d.tryLock(req.App, req.Env, kindBackup)
	if err != nil {
		return nil, err
	}
	defer unlock()
	live, err := b.d.store.LiveRelease(req.App, req.Env)
	if err != nil {
		return nil, fmt.Errorf("%s/%s has no live release to back up (deploy it first): %w", req.App, req.Env, err)
	}
	keys, err := volumeKeys(&live.Spec, req.Volume)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", req.App, req.Env, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s/%s mounts no named volume: there is nothing to back up (data in bind mounts is the host's to back up)", ErrInvalid, req.App, req.Env)
	}
	var out []store.Backup
	var errs []error
	for _, key := range keys {
		bk, err := b.backupVolume(ctx, live, req.Env, key, req.Trigger, say)
		if bk.ID != 0 {
			out = append(out, bk)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", key, err))
		}
	}
	if len(errs) == 0 {
		if err := b.applyRetention(req.App, req.Env, &live.Spec, say); err != nil {
			b.log.Warn("retention", "app", req.App, "env", req.Env, "error", err)
		}
	}
	return out, errors.Join(errs...)
}

// usable refuses backups on a server that cannot make them.
func (b *Backups) usable() error {
	if b.d.cluster != nil {
		return fmt.Errorf("%w: backups of volumes run on one host only for now: a Swarm cluster's volumes live on the nodes its tasks land on", ErrInvalid)
	}
	if _, ok := b.d.eng.(volumeIO); !ok {
		return fmt.Errorf("%w: this engine cannot copy volumes (it has no archive API)", ErrInvalid)
	}
	return nil
}

// volumeKeys are the keys of the named volumes app mounts, sorted, or
// only want (refused when app mounts no such volume).
func volumeKeys(app *spec.App, want string) ([]string, error) {
	set := map[string]bool{}
	for _, s := range app.Services {
		for _, m := range s.Volumes {
			if m.Type == "volume" && m.Source != "" {
				set[m.Source] = true
			}
		}
	}
	keys := slices.Sorted(maps.Keys(set))
	if want == "" {
		return keys, nil
	}
	if !set[want] {
		return nil, fmt.Errorf("%w: no named volume %q is mounted (volumes: %s)", store.ErrNotFound, want, listOr(keys, "none"))
	}
	return []string{want}, nil
}

func listOr(l []string, none string) string {
	if len(l) == 0 {
		return none
	}
	return strings.Join(l, ", ")
}

// hookOf returns the service whose dump hook stands for volume key.
func hookOf(app *spec.App, key string) (*spec.Service, bool) {
	for i := range app.Services {
		s := &app.Services[i]
		if s.Backup.Hooked() && s.BackupVolume() == key {
			return s, true
		}
	}
	return nil, false
}

// backupVolume makes one backup of volume key of live's app in env and
// records it; a failure is recorded too (event, notification).
func (b *Backups) backupVolume(ctx context.Context, live store.Release, env, key, trigger string, say func(string, ...any)) (store.Backup, error) {
	app := &live.Spec
	name := EngineVolumeName(app, env, key)
	policy := app.BackupPolicyOrDefault()
	rec := store.Backup{App: app.Name, Env: env, Volume: key, EngineName: name, Kind: store.BackupSnapshot, Release: live.ID,
		Trigger: trigger, CreatedBy: ActorOf(ctx), Destination: policy.Destination, StartedAt: b.d.now().UTC()}
	hook, hooked := hookOf(app, key)
	if hooked {
		rec.Kind, rec.Service = store.BackupDump, hook.Name
	}
	rec, err := b.d.store.CreateBackup(rec)
	if err != nil {
		return store.Backup{}, err
	}
	fail := func(err error) (store.Backup, error) {
		rec.Status, rec.Error, rec.Key, rec.EndedAt = store.BackupFailed, err.Error(), "", b.d.now().UTC()
		b.failed(rec)
		if uerr := b.d.store.UpdateBackup(rec); uerr != nil {
			b.log.Error("record failed backup", "app", rec.App, "env", rec.Env, "backup", rec.ID, "error", uerr)
		}
		return rec, err
	}
	vol, err := b.d.eng.InspectVolume(ctx, name)
	if errors.Is(err, engine.ErrNotFound) {
		return fail(fmt.Errorf("volume %s does not exist on the engine yet: nothing was ever written to it", name))
	}
	if err != nil {
		return fail(err)
	}
	if err := b.checkDestination(policy, vol.Mountpoint); err != nil {
		return fail(err)
	}
	if err := b.checkS3(ctx, policy.Destination); err != nil {
		return fail(err)
	}
	rec.Key = backupKey(rec)
	if err := b.d.store.UpdateBackup(rec); err != nil { // its key, for a berth that restarts to clean up
		return rec, err
	}
	dir := b.destinationDir(policy)
	if hooked {
		say("backup %d: volume %s by the dump hook of %s: %s", rec.ID, key, hook.Name, strings.Join(hook.Backup.Command, " "))
		err = b.dump(ctx, live, env, hook, dir, &rec, say)
	} else {
		say("backup %d: volume %s (%s), a snapshot of its files", rec.ID, key, name)
		err = b.snapshot(ctx, live, env, key, name, dir, &rec, say)
	}
	if err == nil && s3Name(policy.Destination) != "" {
		var s *s3Bucket
		if s, err = b.s3Of(s3Name(policy.Destination)); err == nil {
			say("backup %d: uploading to %s", rec.ID, policy.Destination)
			if err = s.upload(ctx, dir, rec.Key); err != nil {
				_ = removeBackupFile(dir, rec)
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	rec.EndedAt = b.d.now().UTC()
	rec.Status = store.BackupOK
	say("backup %d: %s, sha256 %s, in %s (%s)", rec.ID, humanBytes(rec.Size), short(rec.SHA256), rec.EndedAt.Sub(rec.StartedAt).Round(time.Millisecond), rec.Key)
	return rec, b.d.store.UpdateBackup(rec)
}

// failed records a failed backup as an event and tells OnFailure.
func (b *Backups) failed(rec store.Backup) {
	msg := fmt.Sprintf("backup %d of volume %s (release %d, %s) failed: %s", rec.ID, rec.Volume, rec.Release, rec.Trigger, rec.Error)
	if err := b.d.store.AppendEvent(rec.App, rec.Env, store.Event{Kind: EventBackupFailed, Service: rec.Service, Release: releaseLabel(rec.Release), Message: msg}); err != nil {
		b.log.Warn("record event", "app", rec.App, "env", rec.Env, "error", err)
	}
	b.log.Warn("backup failed", "app", rec.App, "env", rec.Env, "volume", rec.Volume, "backup", rec.ID, "error", rec.Error)
	if b.onFailure != nil {
		b.onFailure(rec)
	}
}

// snapshot writes a tar of volume name's files, read through a helper
// container that mounts it read-only, pausing the services that ask
// for it meanwhile.
func (b *Backups) snapshot(ctx context.Context, live store.Release, env, key, name, dir string, rec *store.Backup, say func(string, ...any)) error {
	vio := b.d.eng.(volumeIO)
	img, err := b.helper.image(ctx, b.d.eng, say)
	if err != nil {
		return err
	}
	c, err := b.d.eng.CreateContainer(ctx, b.helperSpec(live.App, env, "backup-"+key, img, nil,
		engine.Mount{Type: "volume", Source: name, Target: "/volume", ReadOnly: true}))
	if c.ID != "" {
		defer b.removeHelper(ctx, c.ID)
	}
	if err != nil {
		return fmt.Errorf("helper container: %w", err)
	}
	resume, paused, err := b.pauseFor(ctx, live, env, key, say)
	defer resume()
	if err != nil {
		return err
	}
	rec.Paused = paused != ""
	rec.Service = paused
	rc, err := vio.CopyFrom(ctx, c.ID, "/volume")
	if err != nil {
		return err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(rebase(pw, rc, "volume")) }()
	size, sum, err := writeBackup(dir, rec.Key, pr)
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("write %s: %w", rec.Key, err)
	}
	rec.Size, rec.SHA256 = size, sum
	return nil
}

// helperSpec is a helper container's spec: not started unless cmd is
// given, on no network, left alone by reconcile.
func (b *Backups) helperSpec(app, env, what, img string, cmd []string, mounts ...engine.Mount) engine.ContainerSpec {
	return engine.ContainerSpec{
		Name:  fmt.Sprintf("%s-%s-%s-%s", app, env, what, randomSuffix()),
		Image: img, Cmd: cmd, NoStart: cmd == nil, NetworkMode: "none", RestartPolicy: "no", Mounts: mounts,
		Labels: map[string]string{engine.LabelApp: app, engine.LabelEnv: env, LabelOneOff: "true", LabelBackupHelper: "true"},
	}
}

func (b *Backups) removeHelper(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
	defer cancel()
	if err := b.d.eng.RemoveContainer(rctx, id); err != nil {
		b.log.Warn("remove helper container", "container", id, "error", err)
	}
}

// List returns app/env's backups, newest first.
func (b *Backups) List(app, env string) ([]store.Backup, error) {
	return b.d.store.ListBackups(app, env)
}

// humanBytes shows a size as 1.2 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
