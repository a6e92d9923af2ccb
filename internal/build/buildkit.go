package build

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"slices"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// Options are the parts of a Compose build: section beyond the
// Dockerfile, args and target, which berth's BuildKit builds apply.
type Options struct {
	DockerfileInline string            `json:"dockerfile_inline,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	Network          string            `json:"network,omitempty"`
	ExtraHosts       []string          `json:"extra_hosts,omitempty"`
	NoCache          bool              `json:"no_cache,omitempty"`
	Pull             bool              `json:"pull,omitempty"`
	// Secrets are the build secrets by id. They never travel in the
	// request's JSON (which ends up in URLs and logs): the API carries
	// them in a header of their own, and nothing stores them.
	Secrets map[string][]byte `json:"-"`
}

// OptionsFor are the options of a service's build: section, its
// secrets' values included.
func OptionsFor(b *spec.Build) Options {
	o := Options{
		DockerfileInline: b.DockerfileInline, Labels: maps.Clone(b.Labels), Network: b.Network,
		ExtraHosts: slices.Clone(b.ExtraHosts), NoCache: b.NoCache, Pull: b.Pull,
	}
	for _, s := range b.Secrets {
		if o.Secrets == nil {
			o.Secrets = map[string][]byte{}
		}
		o.Secrets[s.ID] = s.Value
	}
	return o
}

// engineOptions are the engine's options for req; berth's own labels
// (app, service, revision) win over the file's.
func (req Request) engineOptions(labels map[string]string, creds engine.CredentialLookup) engine.BuildOptions {
	all := maps.Clone(req.Labels)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, labels)
	return engine.BuildOptions{
		Tags: []string{req.Tag}, Dockerfile: req.Dockerfile, BuildArgs: req.Args, Target: req.Target, Labels: all,
		DockerfileInline: req.DockerfileInline, Secrets: req.Secrets, Network: req.Network,
		ExtraHosts: req.ExtraHosts, Pull: req.Pull, NoCache: req.NoCache, CacheScope: req.App,
		Credentials: creds,
	}
}

// ContextOf is the tar build context of b (see Context); a build with
// its Dockerfile inline needs no Dockerfile in the context directory.
func ContextOf(b *spec.Build) (io.ReadCloser, error) {
	return streamContext(prepare(b.Context, b.Dockerfile, b.DockerfileInline == ""))
}

// ContentHashOf is the hex SHA-256 of b's build context (see
// ContentHash) and, for a build with its Dockerfile inline, of that
// Dockerfile too.
func ContentHashOf(b *spec.Build) (string, error) {
	h, err := hashContext(prepare(b.Context, b.Dockerfile, b.DockerfileInline == ""))
	if err != nil || b.DockerfileInline == "" {
		return h, err
	}
	sum := sha256.Sum256([]byte(h + "\n" + b.DockerfileInline))
	return hex.EncodeToString(sum[:]), nil
}
