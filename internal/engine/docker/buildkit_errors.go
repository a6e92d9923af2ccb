package docker

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/util/grpcerrors"
)

// describeBuildError is a BuildKit failure as a user reads it: for a base
// image that could not be pulled, with the image and its registry (the
// locator adds the Dockerfile lines).
func describeBuildError(err, frontend error, ctx context.Context) string {
	if ctx.Err() != nil {
		return "the build was cancelled: " + ctx.Err().Error()
	}
	err = grpcerrors.FromGRPC(err)
	msg := grpcPrefix.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "failed to solve: ")
	if strings.Contains(msg, "/library/sha256") {
		msg += "; BuildKit takes no image ID in FROM: tag the image (docker tag ID NAME:TAG) and write FROM NAME:TAG"
	} else if ref, ok := unpulledImage(msg + "\n" + errorString(frontend)); ok {
		msg = fmt.Sprintf("the base image %s could not be pulled from the registry %s (%s): check the image name and tag, log in to that registry (berth registry add), or build that image on this host first", ref, registryOf(ref), msg)
	}
	return msg
}

// grpcPrefix is the gRPC status wording of an error from the engine.
var grpcPrefix = regexp.MustCompile(`rpc error: code = \w+ desc = `)

// resolveFailure finds the image of a failed base image resolution.
var resolveFailure = regexp.MustCompile(`(?:` + resolvePrefix + `|failed to resolve source metadata for|pull access denied for) (\S+?)[:,] `)

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

func errorString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
