package spec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
)

// maxSecret bounds a secret's content (Swarm's own limit is 500 KiB).
const maxSecret = 500 << 10

// SecretsDir is where Compose mounts a service's secrets.
const SecretsDir = "/run/secrets"

// storeName is the form of a secret name in berth's store (berth secrets
// set APP KEY): an environment variable's name.
var storeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// SecretFile is one Compose secret a service mounts as a file.
//
// A secret from file: or environment: is read when the Compose file is
// (by the CLI: the server may be another machine) into Content, which
// travels in the deploy request only: the server seals it into the
// release (encrypted as berth's own secrets are) and clears Content
// before the definition is stored, so no stored or listed definition
// holds it. An external: secret is one of berth's own secrets of the
// app environment (Store), looked up when the release is deployed.
type SecretFile struct {
	// Name is the secret's key under the top-level secrets:.
	Name string `json:"name"`
	// Target is the absolute path in the container (default
	// /run/secrets/<name>).
	Target string `json:"target"`
	UID    string `json:"uid,omitempty"`
	GID    string `json:"gid,omitempty"`
	Mode   uint32 `json:"mode,omitempty"` // 0444 when 0
	// Store is the name of the berth secret (external: true; its name:,
	// or the key) whose value the file holds; empty for file: and
	// environment: secrets.
	Store string `json:"store,omitempty"`
	// Content is the value of a file: or environment: secret, set
	// between the CLI and the server only (see above).
	Content string `json:"content,omitempty"`
}

// String is the secret's name and target, never its content.
func (sf SecretFile) String() string {
	return sf.Name + "→" + sf.Target
}

// HasSecretContent reports whether any secret of a still carries its
// content (a definition as loaded, not yet sealed by the server).
func (a *App) HasSecretContent() bool {
	for _, s := range a.Services {
		for _, sf := range s.Secrets {
			if sf.Content != "" {
				return true
			}
		}
	}
	return false
}

// convertSecrets resolves svc's secrets: against the project's top-level
// secrets (file, environment or external), reporting what cannot be
// read. Each file is read once, whichever services mount it.
func convertSecrets(c *collector, s *Service, refs []types.ServiceSecretConfig, defs types.Secrets, wd string, env map[string]string) {
	for _, ref := range refs {
		field := "secrets." + ref.Source
		def, ok := defs[ref.Source]
		if !ok {
			c.add(s.Name, field, fmt.Sprintf("no top-level secret named %q: declare it under secrets:", ref.Source))
			continue
		}
		sf := SecretFile{Name: ref.Source, UID: ref.UID, GID: ref.GID}
		switch {
		case bool(def.External):
			sf.Store = def.Name
			if sf.Store == "" {
				sf.Store = ref.Source
			}
			if !storeName.MatchString(sf.Store) {
				c.add(s.Name, field, fmt.Sprintf("external secret %q: berth's secrets are named with letters, digits and _ (berth secrets set APP KEY); set name: to such a name, e.g. name: %s", sf.Store, storeKeyHint(sf.Store)))
				continue
			}
		case def.File != "":
			p := def.File
			if !filepath.IsAbs(p) {
				p = filepath.Join(wd, p)
			}
			shown := def.File
			if rel, rerr := filepath.Rel(wd, p); rerr == nil {
				shown = rel
			}
			st, err := os.Stat(p)
			if err == nil && st.IsDir() {
				c.add(s.Name, field, fmt.Sprintf("%s is a directory: a secret is one file", shown))
				continue
			}
			if err == nil && st.Size() > maxSecret {
				c.add(s.Name, field, fmt.Sprintf("%s has %d bytes; secrets must stay under %d", shown, st.Size(), maxSecret))
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				c.add(s.Name, field, fmt.Sprintf("cannot read %s: %v", shown, errors.Unwrap(err)))
				continue
			}
			sf.Content = string(b)
		case def.Environment != "":
			v, ok := env[def.Environment]
			if !ok {
				c.add(s.Name, field, fmt.Sprintf("environment variable %s is not set: set it where berth deploy runs (or in .env)", def.Environment))
				continue
			}
			sf.Content = v
		default:
			c.add(s.Name, field, fmt.Sprintf("secret %q has no file:, environment: or external: true", ref.Source))
			continue
		}
		if len(sf.Content) > maxSecret {
			c.add(s.Name, field, fmt.Sprintf("%d bytes; secrets must stay under %d", len(sf.Content), maxSecret))
			continue
		}
		sf.Target = secretTarget(ref.Source, ref.Target)
		if ref.Mode != nil {
			sf.Mode = uint32(*ref.Mode)
		}
		s.Secrets = append(s.Secrets, sf)
	}
}

// secretTarget is where Compose mounts a secret: /run/secrets/<source>
// by default, /run/secrets/<target> for a relative target, the target
// itself when absolute.
func secretTarget(source, target string) string {
	switch {
	case target == "":
		return SecretsDir + "/" + source
	case path.IsAbs(target):
		return target
	default:
		return SecretsDir + "/" + target
	}
}

// storeKeyHint turns a secret name into one berth's store accepts.
func storeKeyHint(name string) string {
	b := []byte(name)
	for i, ch := range b {
		if !(ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] >= '0' && b[0] <= '9' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// validateFiles checks where a service's secrets and configs go: absolute,
// clean paths of files, one file per path, numeric uid and gid (the
// engine writes them as they are), and a mode of permission bits.
func validateFiles(c *collector, s *Service) {
	seen := map[string]string{}
	check := func(field, target, uid, gid string, mode uint32) {
		switch {
		case !path.IsAbs(target) || path.Clean(target) != target || target == "/" || target == SecretsDir:
			c.add(s.Name, field+".target", fmt.Sprintf("must be the absolute path of a file in the container (like %s/db_password), got %q", SecretsDir, target))
		case seen[target] != "":
			c.add(s.Name, field+".target", fmt.Sprintf("%s is also the target of %s: give each its own target", target, seen[target]))
		default:
			seen[target] = field
		}
		for _, id := range [][2]string{{"uid", uid}, {"gid", gid}} {
			if id[1] == "" {
				continue
			}
			if n, err := strconv.ParseUint(id[1], 10, 31); err != nil || n > 1<<31-1 {
				c.add(s.Name, field+"."+id[0], fmt.Sprintf("must be a number (a user or group ID), got %q", id[1]))
			}
		}
		if mode > 0o7777 {
			c.add(s.Name, field+".mode", fmt.Sprintf("must be permission bits like 0440, got %#o", mode))
		}
	}
	for _, sf := range s.Secrets {
		check("secrets."+sf.Name, sf.Target, sf.UID, sf.GID, sf.Mode)
		if sf.Store != "" && sf.Content != "" {
			c.add(s.Name, "secrets."+sf.Name, "an external secret has no content of its own")
		}
		if sf.Store != "" && !storeName.MatchString(sf.Store) {
			c.add(s.Name, "secrets."+sf.Name, fmt.Sprintf("external secret %q: berth's secrets are named with letters, digits and _", sf.Store))
		}
	}
	for _, cf := range s.Configs {
		check("configs."+cf.Name, cf.Target, cf.UID, cf.GID, cf.Mode)
	}
}
