package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// restoreDump loads a dump back with its service's restore command in
// its running container, after a dump of the state it replaces.
func (b *Backups) restoreDump(ctx context.Context, bk store.Backup, target *spec.App, live store.Release, env string, res *RestoreResult, say func(string, ...any)) error {
	vio := b.d.eng.(volumeIO)
	svc, ok := hookOf(target, bk.Volume)
	if !ok || len(svc.Backup.Restore) == 0 {
		return fmt.Errorf("%w: backup %d is a dump made by service %s's hook; loading it back takes its restore command (x-berth.backup.restore), and %s/%s's release sets none", ErrInvalid, bk.ID, bk.Service, bk.App, env)
	}
	if live.ID == 0 {
		return fmt.Errorf("%w: %s/%s has nothing live: a dump is loaded back by its service's running container; deploy it first", ErrInvalid, bk.App, env)
	}
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
	tmp, err := os.CreateTemp(b.dir, ".restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, data); err != nil {
		return fmt.Errorf("read backup %d: %w", bk.ID, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	say("backup %d's file is whole: %s, sha256 %s", bk.ID, humanBytes(bk.Size), short(bk.SHA256))
	if err := b.backupFirst(ctx, live, env, bk.Volume, res, say); err != nil {
		return err
	}
	cs, err := b.serviceContainers(ctx, live, env, svc.Name)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("service %s has no running container to load the dump in (berth status %s --env %s)", svc.Name, bk.App, env)
	}
	c := cs[0]
	tr, err := tarOfFile(path.Base(svc.Backup.File), tmp, b.d.now())
	if err != nil {
		return err
	}
	if err := vio.CopyTo(ctx, c.ID, path.Dir(svc.Backup.File), tr); err != nil {
		return fmt.Errorf("copy the dump to %s in %s: %w", svc.Backup.File, c.Name, err)
	}
	say("loading the dump in %s: %s", c.Name, strings.Join(svc.Backup.Restore, " "))
	ctx = context.WithoutCancel(ctx) // a load stopped half-way is the worst end
	code, err := vio.Exec(ctx, c.ID, svc.Backup.Restore, func(line string) { say("  %s | %s", svc.Name, line) })
	if err == nil && code != 0 {
		err = fmt.Errorf("exited with code %d (its output is above)", code)
	}
	if err != nil {
		return fmt.Errorf("the restore command %q failed: %w; the data is as the command left it: the state before is backup %d (berth restore %s %d --env %s)", strings.Join(svc.Backup.Restore, " "), err, res.Previous.ID, bk.App, res.Previous.ID, env)
	}
	return nil
}
