package docker

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/util/grpcerrors"
)

// describeBuildError is a BuildKit failure as a user reads it: the
// Dockerfile line it happened on ("Dockerfile:3: RUN make: …") and, for a
// base image that could not be pulled, the image and its registry.
func describeBuildError(err error, ctx context.Context) string {
	if ctx.Err() != nil {
		return "the build was cancelled: " + ctx.Err().Error()
	}
	err = grpcerrors.FromGRPC(err)
	msg := grpcPrefix.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "failed to solve: ")
	if strings.Contains(msg, "/library/sha256") {
		msg += "; BuildKit takes no image ID in FROM: tag the image (docker tag ID NAME:TAG) and write FROM NAME:TAG"
	} else if ref, ok := unpulledImage(msg); ok {
		msg = fmt.Sprintf("the base image %s could not be pulled from the registry %s (%s): check the image name and tag, log in to that registry (berth registry add), or build that image on this host first", ref, registryOf(ref), msg)
	}
	var where []string
	for _, s := range errdefs.Sources(err) {
		if s.Info == nil || len(s.Ranges) == 0 {
			continue
		}
		line := int(s.Ranges[0].Start.Line)
		loc := fmt.Sprintf("%s:%d", s.Info.Filename, line)
		if lines := strings.Split(string(s.Info.Data), "\n"); line >= 1 && line <= len(lines) {
			loc += ": " + strings.TrimSpace(lines[line-1])
		}
		where = append(where, loc)
	}
	if len(where) == 0 {
		return msg
	}
	return strings.Join(where, "; ") + ": " + msg
}

// grpcPrefix is the gRPC status wording of an error from the engine.
var grpcPrefix = regexp.MustCompile(`rpc error: code = \w+ desc = `)

// resolveFailure finds the image of a failed base image resolution.
var resolveFailure = regexp.MustCompile(`(?:failed to resolve source metadata for|pull access denied for|failed to load cache key: .*? for) (\S+?)[:,] `)

// unpulledImage is the image a "could not resolve or pull" error names.
func unpulledImage(msg string) (string, bool) {
	m := resolveFailure.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// registryOf is the registry host of an image reference.
func registryOf(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "of " + ref
	}
	return reference.Domain(named)
}
