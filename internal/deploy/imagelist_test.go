package deploy

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
)

// countingImages counts the engine's image lists.
type countingImages struct {
	*enginetest.Fake
	n atomic.Int32
}

func (c *countingImages) ListImages(ctx context.Context) ([]engine.Image, error) {
	c.n.Add(1)
	return c.Fake.ListImages(ctx)
}

// A status look of many app environments lists the engine's images once
// per imageListTTL, not once per environment.
func TestDeployer_ImageBytesReusesTheImageListBriefly(t *testing.T) {
	t.Parallel()
	eng := &countingImages{Fake: enginetest.NewFake()}
	now := time.Unix(1000, 0)
	st := newTestStore(t)
	if err := st.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	d := New(Options{Engine: eng, Store: st, Proxy: proxy.New(proxy.Options{}), Now: func() time.Time { return now }})
	t.Cleanup(d.Close)
	ctx := context.Background()
	for range 50 {
		if _, err := d.ImageBytes(ctx, "shop", "production"); err != nil {
			t.Fatal(err)
		}
	}
	if n := eng.n.Load(); n != 1 {
		t.Fatalf("50 looks listed the images %d times, want 1", n)
	}
	now = now.Add(imageListTTL)
	if _, err := d.ImageBytes(ctx, "shop", "production"); err != nil {
		t.Fatal(err)
	}
	if n := eng.n.Load(); n != 2 {
		t.Fatalf("after the TTL: %d lists, want 2", n)
	}
}
