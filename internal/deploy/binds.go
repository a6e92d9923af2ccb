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
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Bind mounts, as this server allows them:
//   - a project bind (a source relative to the Compose file, whose files
//     the deploy sent: spec.Mount.Content) mounts the server's copy of
//     those files, DIR/APP/ENV/HASH/data under Options.BindsDir, one per
//     content hash and app environment; a release records the copy's
//     path, so a rollback mounts the files of the release it restores.
//     Copies are pruned with the releases that name them. On a Swarm
//     cluster they are refused: a task may land on a node without the
//     copy (Compose configs: are shipped to every node).
//   - a host path must be under one of the server's bind roots
//     (--bind-root, repeatable); the engine's socket (and a directory
//     holding it) is refused unless the server allows it (an app that
//     can reach the engine is root on the host). On one host a missing
//     path is created (an empty directory) when the long form asks for
//     it (bind.create_host_path: true), else the engine refuses to start
//     the container, as with docker compose; on a cluster it must exist
//     on the node, as with docker stack deploy.
//
// Every offending mount of every service is listed in one refusal, and
// the CLI asks for it (CheckBinds) before it builds anything.

// bindPolicy is what a server allows of bind mounts.
type bindPolicy struct {
	roots       []string // absolute, cleaned
	allowSocket bool
	sockets     []string // the engine's socket paths
	dir         string   // where project binds' copies are kept; "" for none
}

func newBindPolicy(o Options) bindPolicy {
	p := bindPolicy{allowSocket: o.AllowDockerSocket, dir: o.BindsDir}
	for _, r := range append([]string{o.BindRoot}, o.BindRoots...) {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(p.roots, filepath.Clean(r)) {
			p.roots = append(p.roots, filepath.Clean(r))
		}
	}
	p.sockets = []string{"/var/run/docker.sock", "/run/docker.sock"}
	if s := o.EngineSocket; s != "" && !slices.Contains(p.sockets, s) {
		p.sockets = append(p.sockets, filepath.Clean(s))
	}
	return p
}

// EngineSocketPath is the local socket a Docker host address names
// ("unix:///var/run/docker.sock"), "" for any other address.
func EngineSocketPath(host string) string {
	if p, ok := strings.CutPrefix(host, "unix://"); ok {
		return p
	}
	return ""
}

// CheckBinds refuses, before anything is built or changed, the bind
// mounts of app this server cannot give it in env, all of them in one
// error. It changes nothing.
func (d *Deployer) CheckBinds(app *spec.App, env string) error {
	var refusals []string
	for _, svc := range app.Services {
		for _, m := range svc.Volumes {
			if m.Type != "bind" {
				continue
			}
			if msg := d.bindRefusal(m); msg != "" {
				refusals = append(refusals, fmt.Sprintf("service %q: bind mount %s:%s %s", svc.Name, m.ShownSource(), m.Target, msg))
			}
		}
	}
	switch len(refusals) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%w: %s", ErrInvalid, refusals[0])
	}
	return fmt.Errorf("%w: %d bind mounts cannot be mounted:\n  %s", ErrInvalid, len(refusals), strings.Join(refusals, "\n  "))
}

// bindRefusal says why m cannot be mounted here, "" when it can.
func (d *Deployer) bindRefusal(m spec.Mount) string {
	p := d.binds
	if m.IsProjectBind() {
		switch {
		case d.cluster != nil:
			return fmt.Sprintf("is a file of the project, sent with the deploy: on a Swarm cluster a task may land on any node, and only this one has the copy; declare it as a Compose config instead (top level configs: {NAME: {file: %s}}, and in the service configs: [{source: NAME, target: %s}]), which Swarm gives every node", m.ShownSource(), m.Target)
		case p.dir == "":
			return "is a file of the project, but this server keeps no copies of project files; use a named volume, or an image that holds the file"
		}
		return ""
	}
	src := filepath.Clean(m.Source)
	real := src
	if r, err := filepath.EvalSymlinks(src); err == nil && d.cluster == nil {
		real = r
	}
	if !p.allowSocket {
		for _, sock := range p.sockets {
			for _, s := range []string{src, real} {
				if s == sock {
					return fmt.Sprintf("is the Docker engine's socket: an app that can reach the engine is root on the host; berth refuses it unless the server is started with --allow-docker-socket")
				}
				if _, in := within(s, sock); in {
					return fmt.Sprintf("holds the Docker engine's socket %s: an app that can reach the engine is root on the host; mount a directory that does not hold it, or start the server with --allow-docker-socket", sock)
				}
			}
		}
	}
	if len(p.roots) == 0 {
		return "is a host path, and this server allows no host paths: mount a path relative to the Compose file (./DIR, sent with the deploy), use a named volume, or start berth server with --bind-root DIR (repeatable) and keep host paths under it"
	}
	under := false
	for _, root := range p.roots {
		realRoot := root
		if r, err := filepath.EvalSymlinks(root); err == nil && d.cluster == nil {
			realRoot = r
		}
		_, srcIn := within(root, src)
		_, realIn := within(realRoot, real)
		if srcIn && realIn {
			under = true
			break
		}
	}
	if !under {
		how := ""
		if real != src {
			how = fmt.Sprintf(" (it leads to %s)", real)
		}
		return fmt.Sprintf("is outside the server's --bind-root %s%s: move it under one of them, mount a path relative to the Compose file (sent with the deploy), or use a named volume", strings.Join(p.roots, ", "), how)
	}
	return ""
}

// within reports whether p is dir or below it.
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// checkBinds refuses app's bind mounts this server cannot give it in env
// (CheckBinds), then points its project binds at the server's copies of
// their files, which the deploy must have sent, and creates the missing
// host paths the file asks for.
func (d *Deployer) checkBinds(app *spec.App, env string) error {
	if err := d.CheckBinds(app, env); err != nil {
		return err
	}
	if len(app.ProjectBinds()) > 0 {
		if err := checkBindNames(app.Name, env); err != nil {
			return err
		}
	}
	var missing []string
	for i := range app.Services {
		svc := &app.Services[i]
		for j := range svc.Volumes {
			m := &svc.Volumes[j]
			switch {
			case m.IsProjectBind():
				copyDir := d.bindCopy(app.Name, env, m.Content)
				if _, err := os.Stat(copyDir); err != nil {
					missing = append(missing, fmt.Sprintf("service %q: the files of bind mount %s (%s) were not sent with the deploy", svc.Name, m.ShownSource(), m.Content[:12]))
					continue
				}
				m.Source = filepath.Join(copyDir, "data")
			case m.Type == "bind" && m.CreateHostPath && d.cluster == nil:
				if err := os.MkdirAll(m.Source, 0o755); err != nil {
					return fmt.Errorf("service %q: bind mount %s: create_host_path: %w", svc.Name, m.Source, err)
				}
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s; deploy with berth deploy, which sends them (or send them first: PUT /api/v1/apps/%s/envs/%s/binds)", ErrInvalid, strings.Join(missing, "; "), app.Name, env)
	}
	return nil
}

// bindCopy is the directory of app/env's copy of the files with hash.
func (d *Deployer) bindCopy(app, env, hash string) string {
	return filepath.Join(d.binds.dir, app, env, hash)
}

// MissingBinds lists the content hashes of app's project binds this
// server has no copy of in env: the files the deploy must send.
func (d *Deployer) MissingBinds(app *spec.App, env string) []string {
	out := []string{}
	if d.binds.dir == "" || checkBindNames(app.Name, env) != nil {
		return out
	}
	now := d.now()
	for _, m := range app.ProjectBinds() {
		c := d.bindCopy(app.Name, env, m.Content)
		if _, err := os.Stat(c); err != nil {
			out = append(out, m.Content)
			continue
		}
		_ = os.Chtimes(c, now, now) // fresh: not pruned before its deploy
	}
	return out
}

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

// checkRestoredBinds refuses to restore a release whose bind mounts this
// server no longer allows or whose copies of project files are gone.
func (d *Deployer) checkRestoredBinds(app *spec.App, env string) error {
	if err := d.CheckBinds(app, env); err != nil {
		return err
	}
	for _, svc := range app.Services {
		for _, m := range svc.Volumes {
			if !m.IsProjectBind() {
				continue
			}
			if _, err := os.Stat(m.Source); err != nil {
				return fmt.Errorf("%w: service %q: the copy of bind mount %s (%s) is gone (pruned): deploy the files again with berth deploy", ErrInvalid, svc.Name, m.ShownSource(), m.Source)
			}
		}
	}
	return nil
}
