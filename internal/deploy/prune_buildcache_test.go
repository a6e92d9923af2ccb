package deploy

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
)

func TestDeployer_PruneBuildCacheAsksTheEngine(t *testing.T) {
	f := enginetest.NewFake()
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{})})
	if _, err := d.PruneBuildCache(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.BuildCachePrunes(); n != 1 {
		t.Fatalf("engine build cache prunes: %d, want 1", n)
	}
	if _, err := d.Prune(context.Background()); err != nil || f.BuildCachePrunes() != 1 {
		t.Fatalf("the plain prune (also daily) pruned the build cache: %d %v", f.BuildCachePrunes(), err)
	}
}
