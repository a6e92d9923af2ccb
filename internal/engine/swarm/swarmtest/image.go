package swarmtest

import (
	"context"
	"testing"

	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// LoadImage makes sure the engine at every host (a lab node's socket) has
// img, built on the host's engine (DOCKER_HOST): the lab has no registry,
// so the image is saved from there and loaded into each node that lacks
// it, and tagged img.Ref there. It fails the test when a node still lacks
// it.
func LoadImage(t testing.TB, hosts []string, img enginetest.TestImage) {
	t.Helper()
	ctx := context.Background()
	src, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, h := range hosts {
		nc, err := client.NewClientWithOpts(client.WithHost(h), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.ImageInspect(ctx, img.ID); err != nil {
			rc, err := src.ImageSave(ctx, []string{img.Ref})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := nc.ImageLoad(ctx, rc, client.ImageLoadWithQuiet(true))
			rc.Close()
			if err != nil {
				t.Fatalf("load %s into %s: %v", img.Ref, h, err)
			}
			resp.Body.Close()
		}
		if _, err := nc.ImageInspect(ctx, img.ID); err != nil {
			t.Fatalf("%s on %s: %v", img.Ref, h, err)
		}
		// A node that had the image under another tag gets img.Ref too.
		if ii, err := nc.ImageInspect(ctx, img.Ref); err != nil || ii.ID != img.ID {
			if err := nc.ImageTag(ctx, img.ID, img.Ref); err != nil {
				t.Fatalf("tag %s as %s on %s: %v", img.ID, img.Ref, h, err)
			}
		}
	}
}
