package deploy

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// A release refused before it started keeps its number and reason, not
// its definition; Prune drops failed releases beyond KeepReleases.
func TestDeployer_RefusedReleaseKeepsNoDefinition(t *testing.T) {
	f := enginetest.NewFake()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := newTestStore(t)
	d := New(Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log, KeepReleases: 2})
	compose := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(compose, []byte("name: shop\nservices:\n  web: { image: \"registry.example/shop:nope\", environment: { MARKER: definition-marker } }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{compose}})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		dep, err := d.Deploy(context.Background(), app, "production", DeployOptions{}, nil)
		if err == nil || dep.ID == 0 {
			t.Fatalf("deploy with a missing image: deployment %d, %v; want a refused deployment", dep.ID, err)
		}
	}
	rels, err := st.ListReleases("shop", "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 4 {
		t.Fatalf("%d releases, want 4", len(rels))
	}
	for _, r := range rels {
		if r.Status != store.StatusFailed || !r.Refused || len(r.Spec.Services) != 0 || r.Reason == "" {
			t.Errorf("release %d: status %s refused %v services %d reason %q; want failed, refused, no definition, a reason",
				r.ID, r.Status, r.Refused, len(r.Spec.Services), r.Reason)
		}
	}
	rep, err := d.Prune(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.FailedReleases != 2 {
		t.Errorf("prune removed %d failed releases, want 2", rep.FailedReleases)
	}
	rels, _ = st.ListReleases("shop", "production")
	if len(rels) != 2 || rels[0].ID != 4 || rels[1].ID != 3 {
		t.Errorf("after prune %d releases (newest %v), want 4 and 3", len(rels), rels)
	}
}

// On a cluster, a release refused before its workloads change keeps no
// definition either.
func TestDeployer_ClusterRefusedReleaseKeepsNoDefinition(t *testing.T) {
	cf := newClusterFixture(t)
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.deploy(t, clusterApp("v2"), DeployOptions{Canary: 10}); err == nil {
		t.Fatal("a canary was accepted on a cluster")
	}
	r, err := cf.st.GetRelease("shop", "production", 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || !r.Refused || len(r.Spec.Services) != 0 {
		t.Errorf("refused cluster release: status %s refused %v services %d; want failed, refused, no definition", r.Status, r.Refused, len(r.Spec.Services))
	}
	if live, _ := cf.st.LiveRelease("shop", "production"); live.ID != 1 || len(live.Spec.Services) == 0 {
		t.Errorf("the live release lost its definition: %+v", live)
	}
}
