package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/spec"
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
	if p.allowSocket && slices.Contains(p.sockets, src) {
		return "" // the engine's socket itself, which the server allows
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
