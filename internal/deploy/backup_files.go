package deploy

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// A backup's file: gzip, named by app, env, volume, release and time
// under APP/ENV/ of its destination directory, with a NAME.sha256 beside
// it in sha256sum's format (sha256sum -c checks it). It is written as
// NAME.partial and renamed once complete and synced, so a file of that
// name is always whole.

// Extensions of a backup's file by kind.
const (
	extSnapshot = ".tar.gz"
	extDump     = ".dump.gz"
)

// backupKey is the file's path relative to its destination.
func backupKey(b store.Backup) string {
	ext := extSnapshot
	if b.Kind == store.BackupDump {
		ext = extDump
	}
	name := fmt.Sprintf("%s-%s-%s-r%d-%s-%d%s", b.App, b.Env, b.Volume, b.Release, b.StartedAt.UTC().Format("20060102T150405Z"), b.ID, ext)
	return path.Join(b.App, b.Env, name)
}

// writeBackup copies r, compressed, into dir/key and returns its size
// and sha256. On an error nothing of it is left.
func writeBackup(dir, key string, r io.Reader) (int64, string, error) {
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return 0, "", err
	}
	tmp := p + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, "", err
	}
	fail := func(err error) (int64, string, error) {
		f.Close()
		os.Remove(tmp)
		return 0, "", err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	zw := gzip.NewWriter(cw)
	if _, err := io.Copy(zw, r); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return 0, "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(p+".sha256", []byte(sum+"  "+filepath.Base(p)+"\n"), 0o600); err != nil {
		os.Remove(tmp)
		return 0, "", err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		os.Remove(p + ".sha256")
		return 0, "", err
	}
	return cw.n, sum, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// openBackup opens a backup's file after checking it is whole: its size
// and sha256 as recorded. The reader gives the uncompressed content.
func openBackup(dir string, b store.Backup) (io.ReadCloser, error) {
	p := filepath.Join(dir, filepath.FromSlash(b.Key))
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("backup %d: its file is gone (%v): pick another one (berth backups %s --env %s)", b.ID, err, b.App, b.Env)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backup %d: read %s: %w", b.ID, p, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != b.SHA256 || n != b.Size {
		f.Close()
		return nil, fmt.Errorf("backup %d: its file %s is damaged: %d bytes with sha256 %s, recorded %d bytes with sha256 %s; nothing was restored: pick another backup", b.ID, p, n, short(sum), b.Size, short(b.SHA256))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backup %d: %s is not gzip: %w", b.ID, p, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// removeBackupFile deletes a backup's file and its checksum; a missing
// one is not an error.
func removeBackupFile(dir string, b store.Backup) error {
	if b.Key == "" {
		return nil
	}
	p := filepath.Join(dir, filepath.FromSlash(b.Key))
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(p + ".sha256"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// rebase copies the tar stream the engine gives for a directory (every
// entry under the directory's name: "volume/…") to w with the entries
// relative to it ("./" for the directory itself), as tar -C DIR . would
// write them.
func rebase(w io.Writer, r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(h.Name, "./")
		rest, ok := strings.CutPrefix(name, dir)
		if !ok || (rest != "" && rest[0] != '/') {
			return fmt.Errorf("unexpected entry %q in the copy of /%s", h.Name, dir)
		}
		rest = strings.TrimPrefix(rest, "/")
		if rest == "" {
			rest = "./"
		}
		h.Name = rest
		if h.Typeflag == tar.TypeLink {
			if l, ok := strings.CutPrefix(strings.TrimPrefix(h.Linkname, "./"), dir+"/"); ok {
				h.Linkname = l
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// fileOf reads the first regular file of a tar stream (what the engine
// gives for one file's path).
func fileOf(r io.Reader) (io.Reader, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			return tr, nil
		}
	}
}

// tarOfFile makes a tar stream of the file f holds, named name.
func tarOfFile(name string, f *os.File, now time.Time) (io.Reader, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), ModTime: now})
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// destinationDir is where a policy's backups are written: the server's
// directory for local.
func (b *Backups) destinationDir(p spec.BackupPolicy) string {
	if p.Destination == "" || p.Destination == spec.DestinationLocal || s3Name(p.Destination) != "" {
		return b.dir // a bucket's backups are made here, then uploaded
	}
	return p.Destination
}

// checkDestination refuses a directory the server does not allow
// (outside its bind roots), or one inside the volume it backs up.
func (b *Backups) checkDestination(p spec.BackupPolicy, mountpoint string) error {
	dir := b.destinationDir(p)
	if dir == "" {
		return errors.New("this berth server has no backup directory (berth server --backup-dir)")
	}
	if dir != b.dir && s3Name(p.Destination) == "" {
		ok := false
		for _, r := range b.d.binds.roots {
			if _, in := within(r, dir); in {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("%w: x-berth.backups.destination %s is not under one of this server's bind roots (berth server --bind-root): use local (%s), or a directory under a bind root", ErrInvalid, dir, b.dir)
		}
	}
	if mountpoint != "" {
		if _, in := within(filepath.Clean(mountpoint), dir); in {
			return fmt.Errorf("%w: the backup directory %s is inside the volume it backs up (%s): give x-berth.backups.destination a directory outside it", ErrInvalid, dir, mountpoint)
		}
	}
	return nil
}
