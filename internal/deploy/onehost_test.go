package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
)

// The deploy keys only a cluster applies are named for a deploy to one
// host, each with its service; a service without them is not.
func TestOneHostNotes_NameClusterOnlyKeys(t *testing.T) {
	t.Parallel()
	one := uint64(1)
	app := &spec.App{Services: []spec.Service{
		{Name: "db"},
		{Name: "web", Rollout: &spec.Rollout{
			Update:          &spec.UpdateConfig{Parallelism: &one},
			Constraints:     []string{"node.role==manager"},
			ReserveNanoCPUs: 5e8,
		}},
	}}
	got := oneHostNotes(app)
	want := []string{
		`service "web": deploy.update_config has no effect on one host`,
		`service "web": deploy.placement has no effect on one host`,
		`service "web": deploy.resources.reservations.cpus has no effect on one host`,
	}
	if len(got) != len(want) {
		t.Fatalf("notes:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("note %d = %q, want it to start with %q", i, got[i], want[i])
		}
	}
}

// A read-only service with Compose secrets is refused on one host before
// anything changes (the files are copied into the container before it
// starts, which a read-only root file system refuses).
func TestDeployer_ReadOnlyWithSecretsIsRefusedOnOneHost(t *testing.T) {
	t.Parallel()
	d := fakeDeployer(t, enginetest.NewFake())
	app := &spec.App{Name: "shop", Services: []spec.Service{{
		Name: "web", Image: "shop:1", Replicas: 1,
		Container: &spec.ContainerOptions{ReadOnly: true},
		Configs:   []spec.ConfigFile{{Name: "conf", Target: "/conf", Content: "x"}},
		Healthcheck: spec.Healthcheck{Path: "/", Interval: spec.Duration(time.Second), Timeout: spec.Duration(time.Second),
			HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Minute)},
	}}}
	_, err := d.Deploy(context.Background(), app, "", DeployOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "read_only: true with secrets: or configs:") {
		t.Fatalf("err = %v, want the read_only refusal", err)
	}
}
