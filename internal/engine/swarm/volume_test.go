package swarm_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/engine"
)

// A volume berth owns reaches every node a task lands on with its
// driver, options and labels, as docker stack deploy makes it: the
// local driver's tmpfs options here, the same shape as NFS's.
func TestWorkload_VolumeOptionsReachTheNodes(t *testing.T) {
	nodes := labNodes(t)
	vol := uniq("wlvol")
	opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
	labels := map[string]string{engine.LabelManaged: "true", "team": "shop"}
	clients := make([]*client.Client, len(nodes))
	for i, h := range nodes {
		c, err := client.NewClientWithOpts(client.WithHost(h), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	// Registered before the workload's own cleanup, so it runs after it:
	// a node removes its volume once the task's container is gone.
	t.Cleanup(func() {
		for _, c := range clients {
			deadline := time.Now().Add(time.Minute)
			for {
				err := c.VolumeRemove(context.Background(), vol, false)
				if err == nil || client.IsErrNotFound(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("remove volume %s on %s: %v", vol, c.DaemonHost(), err)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	f := newWorkload(t, uint64(len(nodes)))
	f.spec.Placement = engine.Placement{MaxPerNode: 1}
	f.spec.Template.Mounts = []engine.Mount{
		{Type: "volume", Source: vol, Target: "/data", Volume: &engine.VolumeSpec{Name: vol, DriverOpts: opts, Labels: labels}},
		{Type: "volume", Target: "/scratch"},
	}
	if _, err := f.b.ApplyWorkload(context.Background(), f.spec); err != nil {
		t.Fatal(err)
	}
	f.serving(t, time.Minute, len(nodes), "1")
	for _, c := range clients {
		v, err := c.VolumeInspect(context.Background(), vol)
		if err != nil || v.Driver != "local" || !maps.Equal(v.Options, opts) || v.Labels["team"] != "shop" || v.Labels[engine.LabelManaged] != "true" {
			t.Errorf("volume on %s: %+v %v", c.DaemonHost(), v, err)
		}
	}
}
