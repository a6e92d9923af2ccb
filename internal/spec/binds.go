package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/format"
)

// Bind mounts of the project's own files.
//
// A bind mount whose source is inside the Compose file's directory
// (./nginx.conf, ./config/, . itself) is a project bind: the CLI (or the
// git pipeline, from its checkout) reads the files when it loads the
// file, hashes them (Mount.Content) and sends them with the deploy; the
// server keeps one copy per content hash and app environment, and each
// container of a release mounts that release's copy. A rollback mounts
// the copy of the release it restores, so the files roll back with it.
//
// Docker Compose mounts the user's own file, writable by default; here
// the copy belongs to the release, so it is mounted read-only unless the
// mount says rw explicitly (short syntax ":rw", long syntax
// read_only: false). A missing source is refused, where Compose would
// create an empty directory, unless the long form asks for that
// (bind.create_host_path: true): a mistyped ./nginx.conf silently
// becoming an empty directory is the commonest Compose surprise.
//
// Any other bind source is a host path on the server's machine, checked
// there (berth server --bind-root).

// Bounds on the files of an app's project binds, all of them together:
// they travel with every deploy that changes them.
const (
	MaxBindBytes = 64 << 20
	MaxBindFiles = 10000
)

// BindTree is the content of a project bind: its hash (Mount.Content)
// and size.
type BindTree struct {
	Hash  string
	Bytes int64
	Files int
}

// contentHash is what a Mount.Content looks like: a hex SHA-256.
var contentHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// IsProjectBind reports whether m mounts files of the project that were
// sent with the deploy.
func (m Mount) IsProjectBind() bool { return m.Type == "bind" && m.Project != "" }

// ShownSource is m's source as the user wrote it: ./PATH for a project
// bind, the host path otherwise.
func (m Mount) ShownSource() string {
	if m.IsProjectBind() {
		if m.Project == "." {
			return "."
		}
		return "./" + m.Project
	}
	return m.Source
}

// convertBinds makes the bind mounts of s whose sources are in the
// project directory wd project binds, reading and hashing their files,
// and records what the raw files say of every bind mount that
// compose-go's types do not keep (an explicit rw, an explicit
// create_host_path). total counts the bytes of all services' project
// binds. It returns a warning for each relative source outside wd: a
// host path of the server, not sent with the deploy.
func convertBinds(c *collector, s *Service, files []*sourceFile, wd string, total *int64) []string {
	var warnings []string
	realWD, err := filepath.EvalSymlinks(wd)
	if err != nil {
		realWD = wd
	}
	for i := range s.Volumes {
		m := &s.Volumes[i]
		if m.Type != "bind" || m.Source == "" {
			continue
		}
		field := fmt.Sprintf("volumes[%d]", i)
		raw := rawMount(files, s.Name, m.Target)
		m.CreateHostPath = rawCreateHostPath(raw)
		rel, ok := within(wd, m.Source)
		if !ok {
			if src := rawSource(raw); strings.HasPrefix(src, ".") {
				warnings = append(warnings, fmt.Sprintf("%s: services.%s.%s: %s is outside the Compose file's directory, so it is not sent with the deploy: it is mounted as the host path %s of the server (allowed under its --bind-root); move it into %s to send it", filepath.Base(c.fileFor(s.Name, field)), s.Name, field, src, m.Source, wd))
			}
			continue
		}
		m.Project = rel
		m.ReadOnly = !rawExplicitRW(raw)
		shown := m.ShownSource()
		src := m.Source
		if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
			if !m.CreateHostPath {
				c.add(s.Name, field, fmt.Sprintf("bind mount %s: no such file or directory in %s: create it or fix the path (berth does not make an empty directory of a missing source, as Compose would; to mount one, write the long form with bind: {create_host_path: true})", shown, wd))
				continue
			}
			empty, err := os.MkdirTemp("", "berth-empty-")
			if err != nil {
				c.add(s.Name, field, fmt.Sprintf("bind mount %s: %v", shown, err))
				continue
			}
			src = empty
			defer os.Remove(empty)
			tree, err := TreeHash(src)
			if err != nil {
				c.add(s.Name, field, fmt.Sprintf("bind mount %s: %v", shown, err))
				continue
			}
			m.Content = tree.Hash // the source stays missing: the bundle sends an empty directory
			continue
		} else {
			real, err := filepath.EvalSymlinks(src)
			if err != nil {
				c.add(s.Name, field, fmt.Sprintf("bind mount %s: %v", shown, err))
				continue
			}
			if _, ok := within(realWD, real); !ok {
				c.add(s.Name, field, fmt.Sprintf("bind mount %s is a link to %s, outside the project directory %s: berth sends only the project's own files with the deploy; copy the file into the project, or mount a host path under the server's --bind-root", shown, real, wd))
				continue
			}
			src = real
		}
		tree, err := TreeHash(src)
		switch {
		case errors.Is(err, errTooMany) || errors.Is(err, errTooBig):
			c.add(s.Name, field, fmt.Sprintf("bind mount %s holds %v: the files of bind mounts relative to the Compose file are sent with each deploy, at most %d MiB and %d files in all; mount only the files the service reads, or put large ones in the image or a named volume", shown, err, MaxBindBytes>>20, MaxBindFiles))
			continue
		case err != nil:
			c.add(s.Name, field, fmt.Sprintf("bind mount %s: cannot read it: %v", shown, err))
			continue
		}
		if *total += tree.Bytes; *total > MaxBindBytes {
			c.add(s.Name, field, fmt.Sprintf("bind mount %s (%s) takes the files of the project's bind mounts over %d MiB in all: they are sent with each deploy; mount only the files the services read, or put large ones in the image or a named volume", shown, mib(tree.Bytes), MaxBindBytes>>20))
			continue
		}
		m.Source, m.Content = src, tree.Hash
	}
	return warnings
}

// rawSource is the source a raw mount names, as written.
func rawSource(raw any) string {
	switch e := raw.(type) {
	case string:
		if v, err := format.ParseVolume(e); err == nil {
			return v.Source
		}
	case map[string]any:
		s, _ := e["source"].(string)
		return s
	}
	return ""
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// within reports whether p is dir or below it, and its slash-separated
// path relative to dir ("." for dir itself).
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// rawMount is the entry of service's volumes: that mounts target, as the
// last file that lists it wrote it (a string or a mapping); nil when no
// file does (extends:, include:, interpolated targets).
func rawMount(files []*sourceFile, service, target string) any {
	for i := len(files) - 1; i >= 0; i-- {
		services, _ := files[i].doc["services"].(map[string]any)
		svc, _ := services[service].(map[string]any)
		list, _ := svc["volumes"].([]any)
		for j := len(list) - 1; j >= 0; j-- {
			switch e := list[j].(type) {
			case string:
				if v, err := format.ParseVolume(e); err == nil && path.Clean(v.Target) == path.Clean(target) {
					return e
				}
			case map[string]any:
				if t, _ := e["target"].(string); t != "" && path.Clean(t) == path.Clean(target) {
					return e
				}
			}
		}
	}
	return nil
}

// rawExplicitRW reports whether a raw mount says it is writable: ":rw"
// in the short syntax, read_only: false in the long one.
func rawExplicitRW(raw any) bool {
	switch e := raw.(type) {
	case string:
		v, err := format.ParseVolume(e)
		if err != nil {
			return false
		}
		parts := strings.Split(e, ":")
		return !v.ReadOnly && len(parts) >= 3 && strings.Contains(","+parts[len(parts)-1]+",", ",rw,")
	case map[string]any:
		ro, ok := e["read_only"].(bool)
		return ok && !ro
	}
	return false
}

// rawCreateHostPath reports whether a raw long-form mount asks for a
// missing source to be created (bind: {create_host_path: true}).
func rawCreateHostPath(raw any) bool {
	e, _ := raw.(map[string]any)
	b, _ := e["bind"].(map[string]any)
	v, _ := b["create_host_path"].(bool)
	return v
}

// validateBinds checks what a client says of its project binds: the
// server builds paths of them.
func validateBinds(c *collector, s *Service) {
	for i, m := range s.Volumes {
		if m.Content == "" && m.Project == "" {
			continue
		}
		field := fmt.Sprintf("volumes[%d]", i)
		switch {
		case m.Type != "bind":
			c.add(s.Name, field, "only a bind mount has project files")
		case !contentHash.MatchString(m.Content) || m.Project == "":
			c.add(s.Name, field, fmt.Sprintf("content %s is not a hex SHA-256", quote(m.Content)))
		case m.Project == "" || path.IsAbs(m.Project) || path.Clean(m.Project) != m.Project || m.Project == ".." || strings.HasPrefix(m.Project, "../"):
			c.add(s.Name, field, fmt.Sprintf("project path %s must be a clean path inside the project directory", quote(m.Project)))
		case s.Stateful && !m.ReadOnly:
			c.add(s.Name, field, fmt.Sprintf("bind mount %s:%s is writable, and a stateful service keeps its data: the project's files are a copy kept with each release, so what it writes there would not be kept; mount them read-only (:ro) and keep the data in a named volume (or a host path under the server's --bind-root)", m.ShownSource(), m.Target))
		}
	}
}

// ProjectBinds lists app's project binds, one per content hash, with a
// service that mounts each.
func (a *App) ProjectBinds() []Mount {
	seen := map[string]bool{}
	var out []Mount
	for _, s := range a.Services {
		for _, m := range s.Volumes {
			if m.IsProjectBind() && !seen[m.Content] {
				seen[m.Content] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// BindSummary is the line a deploy prints once when app has project
// binds: what is sent and how it is mounted; "" when it has none.
func (a *App) BindSummary() string {
	var parts []string
	for _, s := range a.Services {
		for _, m := range s.Volumes {
			if m.IsProjectBind() {
				mode := "ro"
				if !m.ReadOnly {
					mode = "rw"
				}
				parts = append(parts, fmt.Sprintf("%s %s:%s:%s", s.Name, m.ShownSource(), m.Target, mode))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "bind mounts of the project's files are sent with the deploy and kept with the release (a rollback mounts that release's copy), read-only unless the mount says rw: " + strings.Join(parts, ", ")
}
