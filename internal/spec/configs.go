package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
)

// maxConfig bounds a config's content (Swarm's own limit is 500 KiB).
const maxConfig = 500 << 10

// ConfigFile is one Compose config a service mounts: its content, read
// when the Compose file is (so the server needs no access to the file),
// and where it goes in the container.
type ConfigFile struct {
	// Name is the config's key under the top-level configs:.
	Name string `json:"name"`
	// Target is the absolute path in the container (default /<name>).
	Target  string `json:"target"`
	Content string `json:"content"`
	UID     string `json:"uid,omitempty"`
	GID     string `json:"gid,omitempty"`
	Mode    uint32 `json:"mode,omitempty"` // 0444 when 0
}

// convertConfigs resolves svc's configs: against the project's top-level
// configs (file, content or environment), reporting what cannot be read.
func convertConfigs(c *collector, s *Service, refs []types.ServiceConfigObjConfig, defs types.Configs, wd string, env map[string]string) {
	for _, ref := range refs {
		field := "configs." + ref.Source
		def, ok := defs[ref.Source]
		if !ok {
			c.add(s.Name, field, fmt.Sprintf("no top-level config named %q: declare it under configs:", ref.Source))
			continue
		}
		if bool(def.External) {
			c.add(s.Name, field, "external configs are not supported: give its file or content")
			continue
		}
		content := def.Content
		switch {
		case def.File != "":
			p := def.File
			if !filepath.IsAbs(p) {
				p = filepath.Join(wd, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				shown := def.File
				if rel, rerr := filepath.Rel(wd, p); rerr == nil {
					shown = rel
				}
				c.add(s.Name, field, fmt.Sprintf("cannot read %s: %v", shown, errors.Unwrap(err)))
				continue
			}
			content = string(b)
		case def.Environment != "" && content == "":
			v, ok := env[def.Environment]
			if !ok {
				c.add(s.Name, field, fmt.Sprintf("environment variable %s is not set", def.Environment))
				continue
			}
			content = v
		}
		if len(content) > maxConfig {
			c.add(s.Name, field, fmt.Sprintf("%d bytes; configs must stay under %d", len(content), maxConfig))
			continue
		}
		cf := ConfigFile{Name: ref.Source, Target: ref.Target, Content: content, UID: ref.UID, GID: ref.GID}
		if cf.Target == "" {
			cf.Target = "/" + ref.Source
		}
		if !filepath.IsAbs(cf.Target) {
			c.add(s.Name, field+".target", fmt.Sprintf("must be an absolute path in the container, got %q", cf.Target))
			continue
		}
		if ref.Mode != nil {
			cf.Mode = uint32(*ref.Mode)
		}
		s.Configs = append(s.Configs, cf)
	}
}

// String is the config's name and target, never its content.
func (cf ConfigFile) String() string {
	return cf.Name + "→" + cf.Target + " (" + strconv.Itoa(len(cf.Content)) + " bytes)"
}
