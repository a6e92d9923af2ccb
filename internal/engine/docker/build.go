package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/build"

	"github.com/berth-dev/berth/internal/engine"
)

// buildMessage is one line of the engine's build output stream.
type buildMessage struct {
	Stream string `json:"stream"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Aux    *struct {
		ID string `json:"ID"`
	} `json:"aux"`
}

// buildLegacy builds with the engine's classic builder, which BuildImage
// falls back to only when the engine serves no BuildKit (buildkit.go).
// It applies none of the BuildKit-only options and refuses a build that
// sets them.
func (b *Backend) buildLegacy(ctx context.Context, buildContext io.Reader, o engine.BuildOptions, log func(string)) (string, error) {
	args := make(map[string]*string, len(o.BuildArgs))
	for k, v := range o.BuildArgs {
		args[k] = &v
	}
	resp, err := b.cli.ImageBuild(ctx, buildContext, build.ImageBuildOptions{
		Tags: o.Tags, Dockerfile: o.Dockerfile, BuildArgs: args, Target: o.Target, Labels: b.imageLabels(o.Labels),
		NoCache: o.NoCache, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		return "", b.wrap("build image", err)
	}
	defer resp.Body.Close()
	var id string
	var tail []string
	dec := json.NewDecoder(resp.Body)
	for {
		var m buildMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("%s: build image: read output: %w", b.name, err)
		}
		if m.Error != "" {
			return "", fmt.Errorf("%s: build failed: %s%s", b.name, strings.TrimSpace(m.Error), indentTail(tail))
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
			tail = append(tail, line)
			if len(tail) > 10 {
				tail = tail[1:]
			}
		}
	}
	if id == "" && len(o.Tags) > 0 {
		img, err := b.InspectImage(ctx, o.Tags[0])
		if err != nil {
			return "", fmt.Errorf("%s: build image: the build reported no image: %w", b.name, err)
		}
		id = img.ID
	}
	if id == "" {
		return "", fmt.Errorf("%s: build image: the build reported no image ID", b.name)
	}
	return id, nil
}

func indentTail(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return "\nlast lines of the build:\n  | " + strings.Join(lines, "\n  | ")
}
