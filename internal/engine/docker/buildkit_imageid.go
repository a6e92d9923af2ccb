package docker

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// imageIDRef matches an image ID as the classic builder took it in FROM:
// sha256:HEX, or 12 to 64 hex digits.
var imageIDRef = regexp.MustCompile(`^(sha256:)?[0-9a-f]{12,64}$`)

// idTagRepo is the repository berth tags images with when a Dockerfile
// names them by ID.
const idTagRepo = "berth-image-id"

// nameImageIDs rewrites FROM lines that name a local image by its ID
// (which the classic builder took and BuildKit, which reads every FROM as
// a name, does not) to a tag berth gives that image, idTagRepo:HEX. The
// tag stays, so the image is never left without a name by berth. Lines
// keep their numbers, so errors still name the user's lines.
func (b *Backend) nameImageIDs(ctx context.Context, dockerfile []byte) ([]byte, error) {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return dockerfile, nil // the frontend reports it, with its line
	}
	lines := strings.Split(string(dockerfile), "\n")
	changed := false
	for _, n := range res.AST.Children {
		if !strings.EqualFold(n.Value, "from") || n.Next == nil || !imageIDRef.MatchString(n.Next.Value) {
			continue
		}
		id := n.Next.Value
		img, err := b.InspectImage(ctx, id)
		if err != nil {
			continue // not a local image: let the frontend say what it is
		}
		hex := strings.TrimPrefix(img.ID, "sha256:")
		tag := idTagRepo + ":" + hex
		if err := b.cli.ImageTag(ctx, img.ID, tag); err != nil {
			return nil, b.wrap(fmt.Sprintf("tag image %s for the build", id), err)
		}
		i := n.StartLine - 1
		if i >= 0 && i < len(lines) && strings.Contains(lines[i], id) {
			lines[i] = strings.Replace(lines[i], id, tag, 1)
			changed = true
		}
	}
	if !changed {
		return dockerfile, nil
	}
	return []byte(strings.Join(lines, "\n")), nil
}
