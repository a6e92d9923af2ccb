package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// Self-healing on --engine swarm is Swarm's: a task whose container is
// killed is replaced by a new task in its slot. berth reports it as on
// one host: an event "replaced" naming the task and how it ended, and
// status counts the replica back once the new task is healthy.
func TestSwarm_KilledTaskIsReplacedAndReported(t *testing.T) {
	l, img := lab(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	activateAll(t, s)
	if _, _, err := deploy(t, s, scaleCompose(t, name, host, img.Ref, 3, "")); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	testutil.Eventually(t, 20*time.Second, "web 3/3 healthy", func() bool {
		svc, _ := webStatus(t, s, name)
		return svc.Healthy == 3
	})

	// Kill one task's container on whichever node runs one.
	var killed string
	for _, h := range l.Hosts {
		dc, err := client.NewClientWithOpts(client.WithHost(h), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		cs, err := dc.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(
			filters.Arg("label", "com.docker.swarm.service.name="+name+"-production-web"))})
		if err == nil && len(cs) > 0 {
			if err := dc.ContainerKill(context.Background(), cs[0].ID, "KILL"); err != nil {
				t.Fatal(err)
			}
			killed = cs[0].Labels["com.docker.swarm.task.name"]
		}
		dc.Close()
		if killed != "" {
			break
		}
	}
	if killed == "" {
		t.Fatal("no task container found on any node")
	}
	t.Logf("killed the container of task %s", killed)
	// Swarm starts the new task after its restart delay: status counts
	// it as replacing meanwhile.
	testutil.Eventually(t, 30*time.Second, "status shows web 2/3 healthy, 1 replacing", func() bool {
		svc, _ := webStatus(t, s, name)
		return svc.Replicas == 3 && svc.Healthy == 2 && svc.Replacing == 1
	})
	var msg string
	testutil.Eventually(t, 60*time.Second, "an event reporting the replaced task", func() bool {
		evs, err := s.client.Events(context.Background(), name, spec.DefaultEnv, 20)
		if err != nil {
			return false
		}
		for _, e := range evs {
			if e.Kind == "replaced" && strings.Contains(e.Message, "exited with code 137") {
				msg = e.Message
				return true
			}
		}
		return false
	})
	t.Logf("event: %s", msg)
	testutil.Eventually(t, 60*time.Second, "web 3/3 healthy again, nothing replacing", func() bool {
		svc, _ := webStatus(t, s, name)
		return svc.Replicas == 3 && svc.Healthy == 3 && svc.Replacing == 0
	})
	evs, _ := s.client.Events(context.Background(), name, spec.DefaultEnv, 20)
	n := 0
	for _, e := range evs {
		if e.Kind == "replaced" {
			n++
		}
		if e.Kind == "died" || e.Kind == "restarted" {
			t.Errorf("a per-service event on a cluster: %s: %s", e.Kind, e.Message)
		}
	}
	if n != 1 {
		t.Errorf("%d replaced events for one killed task, want 1: %+v", n, evs)
	}
}
