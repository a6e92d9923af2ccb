package deploy

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// The copies of project files: received (StoreBinds), kept one per
// content hash and app environment, pruned with the releases.

// safeName is what an app or environment name must look like to name a
// directory.
var safeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkBindNames refuses an app or environment name that cannot name a
// directory of copies.
func checkBindNames(app, env string) error {
	if !safeName.MatchString(app) || !safeName.MatchString(env) || strings.Contains(app+env, "..") {
		return fmt.Errorf("%w: app %q, environment %q: not a valid name", ErrInvalid, app, env)
	}
	return nil
}

// StoreBinds keeps the files of a bundle (spec.WriteBindBundle) as
// app/env's copies, one per content hash, checking that each hash is the
// hash of what arrived. At most spec.MaxBindBytes and spec.MaxBindFiles
// are read; a copy the server has already is left as it is.
func (d *Deployer) StoreBinds(app, env string, r io.Reader) ([]string, error) {
	if d.binds.dir == "" {
		return nil, fmt.Errorf("%w: this server keeps no copies of project files", ErrInvalid)
	}
	if err := checkBindNames(app, env); err != nil {
		return nil, err
	}
	envDir := filepath.Join(d.binds.dir, app, env)
	if err := os.MkdirAll(envDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(envDir, ".upload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	hashes, err := unpackBundle(tmp, r)
	if err != nil {
		return nil, fmt.Errorf("%w: bind files: %w", ErrInvalid, err)
	}
	for _, h := range hashes {
		tree, err := spec.TreeHash(filepath.Join(tmp, h, "data"))
		if err != nil {
			return nil, fmt.Errorf("%w: bind files %s: %v", ErrInvalid, h[:12], err)
		}
		if tree.Hash != h {
			return nil, fmt.Errorf("%w: bind files %s arrived with another content (%s): a file changed while it was sent; deploy again", ErrInvalid, h[:12], tree.Hash[:12])
		}
		dst := filepath.Join(envDir, h)
		if _, err := os.Stat(dst); err == nil {
			now := time.Now()
			_ = os.Chtimes(dst, now, now) // fresh: not pruned before its deploy
			continue
		}
		if err := os.Rename(filepath.Join(tmp, h), dst); err != nil {
			if _, serr := os.Stat(dst); serr != nil {
				return nil, err
			} // another upload of the same files got there first
		}
		d.log.Info("stored bind files", "app", app, "env", env, "hash", h, "bytes", tree.Bytes)
	}
	return hashes, nil
}

// unpackBundle writes the entries of a gzip-compressed tar under dir:
// HASH/ then HASH/data and what is under it, each inside a directory it
// created before (never through a link), at most spec.MaxBindBytes and
// spec.MaxBindFiles in all. It returns the hashes.
func unpackBundle(dir string, r io.Reader) ([]string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzip stream: %w", err)
	}
	tr := tar.NewReader(zr)
	var hashes []string
	var bytes int64
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if files++; files > spec.MaxBindFiles*2 {
			return nil, fmt.Errorf("more than %d files: the limit is %d", spec.MaxBindFiles, spec.MaxBindFiles)
		}
		name := strings.TrimSuffix(h.Name, "/")
		hash, rest, _ := strings.Cut(name, "/")
		if !contentHash.MatchString(hash) || (rest != "" && rest != "data" && !strings.HasPrefix(rest, "data/")) ||
			filepath.Clean(name) != filepath.FromSlash(name) || strings.Contains(name, "..") {
			return nil, fmt.Errorf("unexpected entry %q", h.Name)
		}
		full := filepath.Join(dir, filepath.FromSlash(name))
		if rest == "" {
			if h.Typeflag != tar.TypeDir {
				return nil, fmt.Errorf("entry %q must be a directory", h.Name)
			}
			if err := os.Mkdir(full, 0o755); err != nil {
				return nil, err
			}
			hashes = append(hashes, hash)
			continue
		}
		if err := realDirs(dir, filepath.Dir(full)); err != nil {
			return nil, fmt.Errorf("entry %q: %w", h.Name, err)
		}
		perm := spec.BindPerm(fs.FileMode(h.Mode).Perm())
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.Mkdir(full, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, full)
		case tar.TypeReg:
			if bytes += h.Size; bytes > spec.MaxBindBytes {
				return nil, fmt.Errorf("more than %d MiB: the limit is %d MiB", spec.MaxBindBytes>>20, spec.MaxBindBytes>>20)
			}
			err = writeFile(full, tr, h.Size, perm)
		default:
			return nil, fmt.Errorf("entry %q: only files, directories and links are kept", h.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

// contentHash is a spec.Mount.Content: a hex SHA-256.
var contentHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// realDirs checks that every component of p below root is a directory,
// not a link: an entry is never written through a link an earlier entry
// made.
func realDirs(root, p string) error {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		st, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", part)
		}
	}
	return nil
}

func writeFile(p string, r io.Reader, size int64, perm fs.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil { // past the umask
		f.Close()
		return err
	}
	return f.Close()
}

// pruneBinds removes the copies of project files that no release kept
// for rollback names (the releases whose images Prune keeps), once they
// are an hour old: a copy just sent waits for its deploy.
func (d *Deployer) pruneBinds() ([]string, error) {
	if d.binds.dir == "" {
		return nil, nil
	}
	keep := map[string]bool{}
	apps, err := d.store.ListApps()
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		for _, env := range a.Envs {
			rels, err := d.store.ListReleases(a.Name, env)
			if err != nil {
				return nil, err
			}
			good := 0
			for _, r := range rels { // newest first
				kept := r.Status == store.StatusPending || r.Status == store.StatusLive
				if r.Status != store.StatusFailed && r.Status != store.StatusPending {
					good++
					kept = kept || good <= d.keep
				}
				if kept {
					markBinds(keep, r)
				}
			}
		}
	}
	var removed []string
	var errs []error
	copies, _ := filepath.Glob(filepath.Join(d.binds.dir, "*", "*", "*"))
	for _, c := range copies {
		if !contentHash.MatchString(filepath.Base(c)) || keep[c] {
			continue
		}
		st, err := os.Stat(c)
		if err != nil || d.now().Sub(st.ModTime()) < time.Hour {
			continue
		}
		if err := os.RemoveAll(c); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c)
		d.log.Info("pruned bind files", "path", c)
	}
	return removed, errors.Join(errs...)
}

// markBinds records in set the copies r's project binds mount.
func markBinds(set map[string]bool, r store.Release) {
	for _, svc := range r.Spec.Services {
		for _, m := range svc.Volumes {
			if m.IsProjectBind() {
				set[filepath.Dir(m.Source)] = true
			}
		}
	}
}
