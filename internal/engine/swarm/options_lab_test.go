package swarm_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	swarmtypes "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/engine"
)

// The per-container settings a task can carry reach the container Swarm
// starts on its node (Engine 20.10 here), as docker stack deploy sets
// them.
func TestWorkload_ContainerOptionsReachTheTask(t *testing.T) {
	nodes := labNodes(t)
	f := newWorkload(t, 1)
	yes := true
	f.spec.Template.Options = &engine.ContainerOptions{
		CapAdd: []string{"CAP_NET_ADMIN"}, ReadOnly: true, Init: &yes, Hostname: "web1",
		GroupAdd: []string{"2000"}, Sysctls: map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:    []engine.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		ExtraHosts: []string{"db.internal:10.0.0.5"}, DNSSearch: []string{"example.internal"},
		Tmpfs: map[string]string{"/run": "size=1m"},
		Log:   &engine.LogConfig{Driver: "json-file", Options: map[string]string{"max-size": "1m"}},
	}
	f.spec.Resources.LimitPids = 200
	ctx := context.Background()
	if _, err := f.b.ApplyWorkload(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	f.serving(t, time.Minute, 1, "1")
	mgr, err := client.NewClientWithOpts(client.WithHost(nodes[0]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	tasks, err := mgr.TaskList(ctx, swarmtypes.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", f.spec.Name), filters.Arg("desired-state", "running"))})
	if err != nil || len(tasks) != 1 || tasks[0].Status.ContainerStatus == nil {
		t.Fatalf("tasks: %+v %v", tasks, err)
	}
	id := tasks[0].Status.ContainerStatus.ContainerID
	for _, h := range nodes {
		c, err := client.NewClientWithOpts(client.WithHost(h), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ci, err := c.ContainerInspect(ctx, id)
		if client.IsErrNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		hc := ci.HostConfig
		if !slices.Contains(hc.CapAdd, "CAP_NET_ADMIN") || !hc.ReadonlyRootfs || hc.Init == nil || !*hc.Init ||
			ci.Config.Hostname != "web1" || !slices.Equal(hc.GroupAdd, []string{"2000"}) || hc.Sysctls["net.core.somaxconn"] != "1024" ||
			len(hc.Ulimits) != 1 || hc.Ulimits[0].Soft != 1024 || !slices.Contains(hc.ExtraHosts, "db.internal:10.0.0.5") ||
			!slices.Equal(hc.DNSSearch, []string{"example.internal"}) || hc.LogConfig.Config["max-size"] != "1m" ||
			hc.PidsLimit == nil || *hc.PidsLimit != 200 {
			t.Errorf("task container on %s: host config %+v, hostname %q", h, hc, ci.Config.Hostname)
		}
		var tmpfs bool
		for _, m := range ci.Mounts {
			tmpfs = tmpfs || m.Type == "tmpfs" && m.Destination == "/run"
		}
		if !tmpfs {
			t.Errorf("no tmpfs at /run: %+v", ci.Mounts)
		}
		return
	}
	t.Fatalf("task container %s is on no node", id)
}
