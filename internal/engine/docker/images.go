package docker

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/engine"
)

// InspectImage resolves ref on the host.
func (b *Backend) InspectImage(ctx context.Context, ref string) (engine.Image, error) {
	ii, err := b.cli.ImageInspect(ctx, ref)
	if err != nil {
		if isNotFound(err) {
			return engine.Image{}, fmt.Errorf("%s: image %s: %w", b.name, ref, engine.ErrImageNotFound)
		}
		return engine.Image{}, b.wrap("inspect image "+ref, err)
	}
	img := engine.Image{ID: ii.ID, RepoTags: ii.RepoTags, Created: parseTime(ii.Created), Size: ii.Size}
	if ii.Config != nil {
		img.Labels = ii.Config.Labels
		for p := range ii.Config.ExposedPorts {
			num, proto, _ := strings.Cut(p, "/")
			if proto != "" && proto != "tcp" {
				continue
			}
			if n, err := strconv.Atoi(num); err == nil {
				img.ExposedPorts = append(img.ExposedPorts, n)
			}
		}
	}
	return img, nil
}

// pullMessage is one line of the engine's pull progress stream.
type pullMessage struct {
	Status      string `json:"status"`
	ID          string `json:"id"`
	Progress    string `json:"progress"`
	Error       string `json:"error"`
	ErrorDetail struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// PullImage pulls ref, reporting progress lines.
func (b *Backend) PullImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	rc, err := b.cli.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: encodeAuth(auth)})
	if err != nil {
		return b.pullError(ref, err)
	}
	defer rc.Close()
	if err := readProgress(rc, progress); err != nil {
		return b.pullError(ref, err)
	}
	return nil
}

// PushImage pushes ref to its registry.
func (b *Backend) PushImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	rc, err := b.cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: encodeAuth(auth)})
	if err != nil {
		return fmt.Errorf("%s: push %s: %w", b.name, ref, err)
	}
	defer rc.Close()
	if err := readProgress(rc, progress); err != nil {
		return fmt.Errorf("%s: push %s: %w", b.name, ref, err)
	}
	return nil
}

// encodeAuth is the X-Registry-Auth header value for auth ("" without).
func encodeAuth(auth *engine.RegistryAuth) string {
	if auth == nil {
		return ""
	}
	b, _ := json.Marshal(registry.AuthConfig{Username: auth.Username, Password: auth.Password, ServerAddress: auth.Server})
	return base64.URLEncoding.EncodeToString(b)
}

// readProgress reads a pull or push progress stream, reporting lines
// ("status id progress", e.g. "Downloading 3f2a9c1 [==>  ] 1.2MB/5MB") and
// returning the stream's error message, if any.
func readProgress(rc io.Reader, progress func(string)) error {
	dec := json.NewDecoder(rc)
	for {
		var m pullMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		if m.Error != "" || m.ErrorDetail.Message != "" {
			return errors.New(cmp.Or(m.ErrorDetail.Message, m.Error))
		}
		if progress != nil {
			if line := strings.Join(strings.Fields(m.Status+" "+m.ID+" "+m.Progress), " "); line != "" {
				progress(line)
			}
		}
	}
}

func (b *Backend) pullError(ref string, err error) error {
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("%s: pull %s: the Docker engine does not answer: %w", b.name, ref, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: pull %s: %w", b.name, ref, err)
	}
	msg := strings.ToLower(err.Error())
	notFound := isNotFound(err)
	for _, s := range []string{"not found", "manifest unknown", "pull access denied", "repository does not exist"} {
		notFound = notFound || strings.Contains(msg, s)
	}
	denied := cerrdefs.IsUnauthorized(err) || cerrdefs.IsPermissionDenied(err)
	for _, s := range []string{"pull access denied", "unauthorized", "authentication required", "no basic auth credentials", "access to the resource is denied", "403 forbidden"} {
		denied = denied || strings.Contains(msg, s)
	}
	switch {
	case notFound && denied:
		return fmt.Errorf("%s: pull %s: %w (%w): %v", b.name, ref, engine.ErrImageNotFound, engine.ErrRegistryDenied, err)
	case notFound:
		return fmt.Errorf("%s: pull %s: %w: %v", b.name, ref, engine.ErrImageNotFound, err)
	case denied:
		return fmt.Errorf("%s: pull %s: %w: %v", b.name, ref, engine.ErrRegistryDenied, err)
	}
	return fmt.Errorf("%s: pull %s: the registry could not be reached or refused the pull: %w", b.name, ref, err)
}

// ListImages lists the images on the host.
func (b *Backend) ListImages(ctx context.Context) ([]engine.Image, error) {
	sums, err := b.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, b.wrap("list images", err)
	}
	out := make([]engine.Image, 0, len(sums))
	for _, s := range sums {
		if b.foreign(s.Labels) != "" {
			continue // built by another berth server
		}
		out = append(out, engine.Image{ID: s.ID, RepoTags: s.RepoTags, Created: time.Unix(s.Created, 0), Size: s.Size, Labels: s.Labels})
	}
	return out, nil
}

// RemoveImage removes an image by ID, never by force.
func (b *Backend) RemoveImage(ctx context.Context, id string) error {
	_, err := b.cli.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true})
	if err != nil && !isNotFound(err) {
		return b.wrap("remove image "+id, err)
	}
	return nil
}
