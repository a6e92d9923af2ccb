package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/types"
)

// BuildSecret is one Compose build secret: mounted for
// RUN --mount=type=secret,id=ID during the build, never kept in the image.
type BuildSecret struct {
	// ID is what RUN --mount=type=secret,id= names: the secret's target
	// when the service sets one, else its name (as docker compose does).
	ID string `json:"id"`
	// From says where the value comes from ("file PATH" or
	// "environment NAME"), for messages.
	From string `json:"from,omitempty"`
	// Value is read when the file is loaded and never stored: a stored
	// release holds the secret's name and source only.
	Value []byte `json:"-"`
}

// maxBuildSecret bounds a build secret's size (BuildKit's own limit is
// 500 KiB).
const maxBuildSecret = 500 << 10

// buildNetworks are the build networks BuildKit can give RUN steps.
var buildNetworks = map[string]bool{"": true, "default": true, "host": true, "none": true}

// convertBuild applies the rest of a Compose build: section to s.Build
// (context, dockerfile, args and target are set by convertService). The
// keys berth refuses outright are decided in keys.go; here are the
// refusals that depend on a key's value.
func convertBuild(c *collector, s *Service, b *types.BuildConfig, defs types.Secrets, wd string, env map[string]string) {
	if b == nil || s.Build == nil {
		return
	}
	n := s.Name
	s.Build.DockerfileInline = b.DockerfileInline
	if len(b.Labels) > 0 {
		s.Build.Labels = maps.Clone(map[string]string(b.Labels))
	}
	s.Build.NoCache, s.Build.Pull = b.NoCache, b.Pull
	if !buildNetworks[b.Network] {
		c.add(n, "build.network", fmt.Sprintf("%q: BuildKit runs build steps on the default network, the host's or none, not on a named network; write network: host, network: none, or remove it", b.Network))
	} else if b.Network != "default" {
		s.Build.Network = b.Network
	}
	for host, ips := range b.ExtraHosts {
		for _, ip := range ips {
			s.Build.ExtraHosts = append(s.Build.ExtraHosts, host+"="+ip)
		}
	}
	sort.Strings(s.Build.ExtraHosts)
	for _, ref := range b.Secrets {
		if sec, ok := buildSecret(c, n, ref, defs, wd, env); ok {
			s.Build.Secrets = append(s.Build.Secrets, sec)
		}
	}
}

// buildSecret resolves one build secret reference to its value.
func buildSecret(c *collector, service string, ref types.ServiceSecretConfig, defs types.Secrets, wd string, env map[string]string) (BuildSecret, bool) {
	field := "build.secrets." + ref.Source
	def, ok := defs[ref.Source]
	if !ok {
		c.add(service, field, fmt.Sprintf("no top-level secret named %q: declare it under secrets: with file: or environment:", ref.Source))
		return BuildSecret{}, false
	}
	sec := BuildSecret{ID: ref.Source}
	if ref.Target != "" {
		sec.ID = ref.Target
	}
	switch {
	case bool(def.External):
		c.add(service, field, "an external secret is one of berth's own (berth secrets set), which containers get but builds do not: give the build a secret with file: or environment:")
		return BuildSecret{}, false
	case def.File != "":
		p := def.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		if st, err := os.Stat(p); err == nil && (st.IsDir() || st.Size() > maxBuildSecret) {
			c.add(service, field, fmt.Sprintf("%s is a directory or has more than %d bytes: a build secret is one small file", def.File, maxBuildSecret))
			return BuildSecret{}, false
		}
		v, err := os.ReadFile(p)
		if err != nil {
			c.add(service, field, fmt.Sprintf("cannot read %s: %v", def.File, errors.Unwrap(err)))
			return BuildSecret{}, false
		}
		sec.From, sec.Value = "file "+def.File, v
	case def.Environment != "":
		v, ok := env[def.Environment]
		if !ok {
			c.add(service, field, fmt.Sprintf("environment variable %s is not set: set it where berth deploy runs (or in .env)", def.Environment))
			return BuildSecret{}, false
		}
		sec.From, sec.Value = "environment "+def.Environment, []byte(v)
	case def.Content != "":
		sec.From, sec.Value = "content", []byte(def.Content)
	default:
		c.add(service, field, fmt.Sprintf("secret %q has neither file: nor environment:; give it one", ref.Source))
		return BuildSecret{}, false
	}
	if len(sec.Value) > maxBuildSecret {
		c.add(service, field, fmt.Sprintf("%d bytes; build secrets must stay under %d", len(sec.Value), maxBuildSecret))
		return BuildSecret{}, false
	}
	return sec, true
}
