package swarm_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/engine"
)

// A Compose network on Swarm is an overlay with the file's settings
// (internal, labels, driver_opts, ipam), attachable for one-offs; a
// workload's tasks join it beside their first network, with aliases.
func TestWorkload_ComposeNetworks(t *testing.T) {
	ctx := context.Background()
	c, err := client.NewClientWithOpts(client.WithHost(labNodes(t)[0]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	back := uniq("berth-wlback")
	// Registered before the workload's cleanup, so it runs after it: the
	// network is in use until the tasks are gone.
	t.Cleanup(func() {
		waitFor(t, time.Minute, func() (bool, string) {
			err := c.NetworkRemove(context.Background(), back)
			return err == nil || client.IsErrNotFound(err), fmt.Sprint(err)
		})
	})
	f := newWorkload(t, 1)
	n, err := f.b.EnsureNetworkSpec(ctx, engine.NetworkSpec{
		Name: back, Internal: true, Labels: map[string]string{engine.LabelApp: f.app, "tier": "data"},
		IPAM: &engine.IPAM{Config: []engine.IPAMPool{{Subnet: "10.215.77.0/24"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.Driver != "overlay" || n.Scope != "swarm" || !n.Internal || !slices.Equal(n.Subnets, []string{"10.215.77.0/24"}) {
		t.Errorf("network: %+v", n)
	}
	// A second network on that subnet is refused (the managers would
	// accept it and never allocate it).
	if _, err := f.b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: back + "-2", IPAM: &engine.IPAM{Config: []engine.IPAMPool{{Subnet: "10.215.77.0/25"}}}}); err == nil ||
		!strings.Contains(err.Error(), "overlaps network "+back+"'s subnet 10.215.77.0/24") {
		t.Errorf("overlapping subnet: %v", err)
		_ = c.NetworkRemove(ctx, back+"-2")
	}
	ni, err := c.NetworkInspect(ctx, back, network.InspectOptions{})
	if err != nil || !ni.Attachable || ni.Labels["tier"] != "data" {
		t.Errorf("network as the manager has it: attachable %v labels %v %v", ni.Attachable, ni.Labels, err)
	}

	f.spec.Networks = []engine.NetworkAttachment{{Name: back, Aliases: []string{"web", "api"}}}
	if _, err := f.b.ApplyWorkload(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	f.serving(t, time.Minute, 1, "1")
	svc, _, err := c.ServiceInspectWithRaw(ctx, f.spec.Name, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range svc.Spec.TaskTemplate.Networks {
		got = append(got, a.Target)
		if a.Target == n.ID || a.Target == back {
			if !slices.Equal(a.Aliases, []string{"web", "api"}) {
				t.Errorf("aliases on %s: %v", back, a.Aliases)
			}
		}
	}
	if len(got) != 2 {
		t.Errorf("the tasks join %v, want the app's network and %s", got, back)
	}
}
