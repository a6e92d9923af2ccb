package docker_test

import (
	"context"
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
)

// The networks an app environment created are found by its labels, and
// no others.
func TestBackend_NetworksByLabel(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ctx := context.Background()
	app := uniq("rmnet")
	mine := []string{app + "-a", app + "-b"}
	other := app + "-other"
	for _, n := range append(slices.Clone(mine), other) {
		env := "production"
		if n == other {
			env = "staging"
		}
		if _, err := b.EnsureNetwork(ctx, n, map[string]string{engine.LabelManaged: "true", engine.LabelApp: app, engine.LabelEnv: env}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.RemoveNetwork(context.Background(), n) })
	}
	got, err := b.NetworksByLabel(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, mine) {
		t.Errorf("NetworksByLabel = %v, want %v", got, mine)
	}
}
