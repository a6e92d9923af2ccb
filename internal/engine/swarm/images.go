package swarm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"

	"github.com/berth-dev/berth/internal/engine"
)

// Images are node-local in a swarm: these calls act on the manager berth
// talks to. A task elsewhere gets its image from a registry (a reference
// with a digest), or finds it already loaded (a reference by image ID).

// InspectImage resolves ref on the manager.
func (b *Backend) InspectImage(ctx context.Context, ref string) (engine.Image, error) {
	ii, err := b.cli.ImageInspect(ctx, ref)
	if err != nil {
		if isNotFound(err) {
			return engine.Image{}, fmt.Errorf("swarm: image %s: %w", ref, engine.ErrImageNotFound)
		}
		return engine.Image{}, wrap("inspect image "+ref, err)
	}
	img := engine.Image{ID: ii.ID, RepoTags: ii.RepoTags, Size: ii.Size}
	img.Created, _ = time.Parse(time.RFC3339Nano, ii.Created)
	if ii.Config != nil {
		img.Labels = ii.Config.Labels
		for p := range ii.Config.ExposedPorts {
			num, proto, _ := strings.Cut(p, "/")
			if n, err := strconv.Atoi(num); err == nil && (proto == "" || proto == "tcp") {
				img.ExposedPorts = append(img.ExposedPorts, n)
			}
		}
	}
	return img, nil
}

// PullImage pulls ref onto the manager.
func (b *Backend) PullImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	rc, err := b.cli.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: encodeAuth(auth)})
	if err != nil {
		return pullError(ref, err)
	}
	defer rc.Close()
	if err := readProgress(rc, progress); err != nil {
		return pullError(ref, err)
	}
	return nil
}

// PushImage pushes ref from the manager to its registry.
func (b *Backend) PushImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	rc, err := b.cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: encodeAuth(auth)})
	if err != nil {
		return fmt.Errorf("swarm: push %s: %w", ref, err)
	}
	defer rc.Close()
	if err := readProgress(rc, progress); err != nil {
		return fmt.Errorf("swarm: push %s: %w", ref, err)
	}
	return nil
}

// ListImages lists the images on the manager.
func (b *Backend) ListImages(ctx context.Context) ([]engine.Image, error) {
	sums, err := b.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, wrap("list images", err)
	}
	out := make([]engine.Image, 0, len(sums))
	for _, s := range sums {
		out = append(out, engine.Image{ID: s.ID, RepoTags: s.RepoTags, Created: time.Unix(s.Created, 0), Size: s.Size, Labels: s.Labels})
	}
	return out, nil
}

// RemoveImage removes an image from the manager, never by force.
func (b *Backend) RemoveImage(ctx context.Context, id string) error {
	if _, err := b.cli.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true}); err != nil && !isNotFound(err) {
		return wrap("remove image "+id, err)
	}
	return nil
}

// BuildImage builds on the manager with the classic builder. The image
// exists on the manager only: push it (berth's pipeline does when it has
// registry credentials) before tasks on other nodes can run it.
func (b *Backend) BuildImage(ctx context.Context, buildContext io.Reader, o engine.BuildOptions, log func(string)) (string, error) {
	args := make(map[string]*string, len(o.BuildArgs))
	for k, v := range o.BuildArgs {
		args[k] = &v
	}
	resp, err := b.cli.ImageBuild(ctx, buildContext, build.ImageBuildOptions{
		Tags: o.Tags, Dockerfile: o.Dockerfile, BuildArgs: args, Target: o.Target, Labels: o.Labels,
		NoCache: o.NoCache, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		return "", wrap("build image", err)
	}
	defer resp.Body.Close()
	var id string
	var tail []string
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			Stream, Status, Error string
			Aux                   *struct{ ID string }
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("swarm: build image: read output: %w", err)
		}
		if m.Error != "" {
			return "", fmt.Errorf("swarm: build failed: %s\nlast lines of the build:\n  | %s", strings.TrimSpace(m.Error), strings.Join(tail, "\n  | "))
		}
		if m.Aux != nil && m.Aux.ID != "" {
			id = m.Aux.ID
		}
		for _, line := range strings.Split(strings.TrimRight(m.Stream+m.Status, "\n"), "\n") {
			if line == "" {
				continue
			}
			if log != nil {
				log(line)
			}
			if tail = append(tail, line); len(tail) > 10 {
				tail = tail[1:]
			}
		}
	}
	if id == "" && len(o.Tags) > 0 {
		img, err := b.InspectImage(ctx, o.Tags[0])
		if err != nil {
			return "", fmt.Errorf("swarm: build image: the build reported no image: %w", err)
		}
		id = img.ID
	}
	if id == "" {
		return "", errors.New("swarm: build image: the build reported no image ID")
	}
	return id, nil
}

func encodeAuth(auth *engine.RegistryAuth) string {
	if auth == nil {
		return ""
	}
	b, _ := json.Marshal(registry.AuthConfig{Username: auth.Username, Password: auth.Password, ServerAddress: auth.Server})
	return base64.URLEncoding.EncodeToString(b)
}

// readProgress reads a pull or push progress stream, reporting its lines
// and returning the stream's error message, if any.
func readProgress(rc io.Reader, progress func(string)) error {
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Status, ID, Progress, Error string
			ErrorDetail                 struct{ Message string }
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
		if line := strings.Join(strings.Fields(m.Status+" "+m.ID+" "+m.Progress), " "); line != "" && progress != nil {
			progress(line)
		}
	}
}

func pullError(ref string, err error) error {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"not found", "manifest unknown", "pull access denied", "repository does not exist"} {
		if strings.Contains(msg, s) || isNotFound(err) {
			return fmt.Errorf("swarm: pull %s: %w: %v", ref, engine.ErrImageNotFound, err)
		}
	}
	return fmt.Errorf("swarm: pull %s: the registry could not be reached or refused the pull: %w", ref, err)
}
