package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// How a backup reaches a volume's data: the service paused for a
// snapshot, or its dump hook run in its container.

// pauseFor pauses the running containers of the services that mount
// volume key and ask for it (x-berth.backup.pause); resume unpauses
// them (call it whatever the error). It returns the services paused.
func (b *Backups) pauseFor(ctx context.Context, live store.Release, env, key string, say func(string, ...any)) (resume func(), services string, err error) {
	vio := b.d.eng.(volumeIO)
	var paused []string
	var names []string
	resume = func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
		defer cancel()
		for _, id := range paused {
			if err := vio.UnpauseContainer(rctx, id); err != nil {
				b.log.Error("unpause after a backup", "app", live.App, "env", env, "container", id, "error", err)
			}
		}
		if len(paused) > 0 {
			say("resumed %s", strings.Join(names, ", "))
		}
	}
	for _, s := range live.Spec.Services {
		if s.Backup == nil || !s.Backup.Pause || !mounts(s, key) {
			continue
		}
		cs, err := b.serviceContainers(ctx, live, env, s.Name)
		if err != nil {
			return resume, "", err
		}
		for _, c := range cs {
			if err := vio.PauseContainer(ctx, c.ID); err != nil {
				return resume, "", fmt.Errorf("pause %s for the copy: %w", c.Name, err)
			}
			paused = append(paused, c.ID)
		}
		if len(cs) > 0 {
			names = append(names, s.Name)
			say("paused %s (%d container(s)) for the copy (x-berth.backup.pause)", s.Name, len(cs))
		}
	}
	return resume, strings.Join(names, ","), nil
}

func mounts(s spec.Service, key string) bool {
	for _, m := range s.Volumes {
		if m.Type == "volume" && m.Source == key {
			return true
		}
	}
	return false
}

// serviceContainers are the running containers of service in live's
// release (not one-off ones): its own, or a stateful service's one
// container, which keeps running across releases.
func (b *Backups) serviceContainers(ctx context.Context, live store.Release, env, service string) ([]engine.Container, error) {
	cs, err := b.d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: live.App, engine.LabelEnv: env, engine.LabelService: service})
	if err != nil {
		return nil, err
	}
	var out []engine.Container
	for _, c := range cs {
		ours := c.Labels[engine.LabelRelease] == releaseLabel(live.ID) || c.Labels[LabelStateful] == "true"
		if ours && c.Running() && c.Labels[LabelOneOff] == "" {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b engine.Container) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// dump runs service's dump hook in its first running container and
// writes the file it made.
func (b *Backups) dump(ctx context.Context, live store.Release, env string, svc *spec.Service, dir string, rec *store.Backup, say func(string, ...any)) error {
	vio := b.d.eng.(volumeIO)
	cs, err := b.serviceContainers(ctx, live, env, svc.Name)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("service %s has no running container of release %d to run its dump hook in (berth status %s --env %s)", svc.Name, live.ID, live.App, env)
	}
	c := cs[0]
	var tail []string
	code, err := vio.Exec(ctx, c.ID, svc.Backup.Command, func(line string) {
		say("  %s | %s", svc.Name, line)
		if tail = append(tail, line); len(tail) > 5 {
			tail = tail[1:]
		}
	})
	if err != nil {
		return fmt.Errorf("run the dump hook in %s: %w", c.Name, err)
	}
	if code != 0 {
		return fmt.Errorf("the dump hook %q exited with code %d in %s; fix x-berth.backup.command (its output is above)", strings.Join(svc.Backup.Command, " "), code, c.Name)
	}
	rc, err := vio.CopyFrom(ctx, c.ID, svc.Backup.File)
	if err != nil {
		return fmt.Errorf("the dump hook exited 0 but wrote no file %s in %s (x-berth.backup.file): %w", svc.Backup.File, c.Name, err)
	}
	defer rc.Close()
	f, err := fileOf(rc)
	if err != nil {
		return fmt.Errorf("%s in %s is not a regular file: %w", svc.Backup.File, c.Name, err)
	}
	size, sum, err := writeBackup(dir, rec.Key, f)
	if err != nil {
		return fmt.Errorf("write %s: %w", rec.Key, err)
	}
	rec.Size, rec.SHA256 = size, sum
	return nil
}
