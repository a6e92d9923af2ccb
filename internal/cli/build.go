package cli

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/build"
	"github.com/berth-dev/berth/internal/spec"
)

// buildServices builds every service of app that has build:, through the
// server's engine, and points the service at the built image. Images are
// tagged with the service's image: when it names one, else
// <app>-<service>:<git commit> (a content hash outside git or when the
// tree has uncommitted changes).
func buildServices(ctx context.Context, w io.Writer, c *apiclient.Client, app *spec.App) error {
	for i := range app.Services {
		svc := &app.Services[i]
		if svc.Build == nil {
			continue
		}
		rev, err := revision(svc.Build)
		if err != nil {
			return fmt.Errorf("service %q: %w", svc.Name, err)
		}
		tag := svc.Image
		if tag == "" {
			tag = build.Tag(app.Name, svc.Name, rev)
		} else if named, err := reference.ParseNormalizedNamed(tag); err == nil && reference.IsNameOnly(named) {
			tag += ":" + rev // image: names the repository; the commit is the tag
		}
		fmt.Fprintf(w, "building %s from %s as %s\n", svc.Name, svc.Build.Context, tag)
		tarball, err := build.ContextOf(svc.Build)
		if err != nil {
			return fmt.Errorf("service %q: build context: %w", svc.Name, err)
		}
		o := build.OptionsFor(svc.Build)
		id, err := c.Build(ctx, dto.BuildRequest{
			App: app.Name, Service: svc.Name, Tag: tag, Dockerfile: svc.Build.Dockerfile,
			Target: svc.Build.Target, Args: svc.Build.Args, Test: svc.Test, Revision: rev,
			Container:        svc.Container,
			DockerfileInline: o.DockerfileInline, Labels: o.Labels, Network: o.Network,
			ExtraHosts: o.ExtraHosts, NoCache: o.NoCache, Pull: o.Pull, Secrets: o.Secrets,
		}, tarball, func(line string) { fmt.Fprintf(w, "  %s | %s\n", svc.Name, line) })
		tarball.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "built %s: %s (%s)\n", svc.Name, tag, shortImageID(id))
		svc.Image = tag
	}
	return nil
}

// revision is the git commit of the build context when its tree is
// clean, else a hash of the context's content.
func revision(b *spec.Build) (string, error) {
	dir := b.Context
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		status, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--", ".").Output()
		if err == nil && len(strings.TrimSpace(string(status))) == 0 {
			return strings.TrimSpace(string(out)), nil
		}
	}
	h, err := build.ContentHashOf(b)
	if err != nil {
		return "", err
	}
	if len(h) > 12 {
		h = h[:12]
	}
	return h, nil
}

func shortImageID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return filepath.Base(id)
}
