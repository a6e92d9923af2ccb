package swarm_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
)

// The configs and networks of an app environment are found by its
// labels, and its configs removed.
func TestBackend_ConfigsAndNetworksByLabel(t *testing.T) {
	b, _ := newBackend(t)
	ctx := context.Background()
	var r [3]byte
	_, _ = rand.Read(r[:])
	app := "rmobj-" + hex.EncodeToString(r[:])
	mine := map[string]string{engine.LabelManaged: "true", engine.LabelApp: app, engine.LabelEnv: "production"}
	other := map[string]string{engine.LabelManaged: "true", engine.LabelApp: app, engine.LabelEnv: "staging"}

	c1, err := b.EnsureConfig(ctx, app+"-conf", []byte("a=1"), mine)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := b.EnsureConfig(ctx, app+"-conf", []byte("a=2"), other)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.RemoveConfig(context.Background(), c1)
		_ = b.RemoveConfig(context.Background(), c2)
	})
	net := "berth-" + app + "-production"
	if _, err := b.EnsureNetwork(ctx, net, mine); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.RemoveNetwork(context.Background(), net) })

	got, err := b.ConfigsByLabel(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: "production"})
	if err != nil || !slices.Equal(got, []string{c1}) {
		t.Fatalf("ConfigsByLabel = %v, %v; want [%s]", got, err, c1)
	}
	nets, err := b.NetworksByLabel(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: "production"})
	if err != nil || !slices.Equal(nets, []string{net}) {
		t.Fatalf("NetworksByLabel = %v, %v; want [%s]", nets, err, net)
	}
	if err := b.RemoveConfig(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveConfig(ctx, c1); err != nil {
		t.Errorf("removing a missing config: %v, want no error", err)
	}
	if got, _ := b.ConfigsByLabel(ctx, map[string]string{engine.LabelApp: app}); !slices.Equal(got, []string{c2}) {
		t.Errorf("after removing %s: %v, want only staging's %s", c1, got, c2)
	}
}
