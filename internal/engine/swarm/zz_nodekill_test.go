package swarm_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// This file sorts last so the destructive test runs after the others.

// A node's dockerd killed (SIGKILL) under load: Swarm marks the node down
// and starts its instances elsewhere, the follower drops them from the
// pool once their desired state changes. The failed requests are
// counted and reported (the goal: no more than the requests in flight to
// that node). The node is brought back with scripts/swarm-lab up.
func TestWorkload_NodeKilledUnderLoad(t *testing.T) {
	f := newWorkload(t, 6)
	if _, ok := os.LookupEnv("BERTH_SWARM_HOST"); ok {
		t.Skip("kills a lab node's dockerd: lab only")
	}
	_, l := underLoad(t, f)
	ctx := context.Background()
	nodes, err := f.b.ListNodes(ctx)
	if err != nil || len(nodes) < 3 {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
	victim := nodes[2] // node3: never node1, the manager the test talks to
	pidFile := "/run/berth-lab/" + strings.TrimPrefix(victim.Hostname, "node") + "/docker.pid"
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("%s's dockerd pid: %v", victim.Hostname, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restoreLab(t) })
	took, d := phaseCounting(t, l, "kill "+victim.Hostname+"'s dockerd", func() {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 2*time.Minute, func() (bool, string) {
			ns, err := f.b.ListNodes(ctx)
			if err != nil {
				return false, err.Error()
			}
			return ns[2].State == "down", "node state " + ns[2].State
		})
		// The dead node's tasks stay listed (as last seen) until it comes
		// back: wait until six serve elsewhere and none is wanted there.
		waitFor(t, 2*time.Minute, func() (bool, string) {
			ins, err := f.b.ListInstances(ctx, f.labels)
			n, there := 0, 0
			for _, in := range ins {
				if in.Node == victim.Hostname && in.Desired == engine.DesiredRunning {
					there++
				} else if in.Serving() {
					n++
				}
			}
			return err == nil && n == 6 && there == 0, fmt.Sprintf("%d serving elsewhere, %d wanted on %s, err %v", n, there, victim.Hostname, err)
		})
	})
	if d.failed > loadWorkers {
		t.Errorf("%d requests failed, more than the %d that can be in flight", d.failed, loadWorkers)
	}
	benchLine(t, "dockerd of %s killed under load: %d failed of %d requests, %.2fs until its instances ran elsewhere", victim.Hostname, d.failed, d.ok+d.failed, took.Seconds())
}

// restoreLab starts the killed node's dockerd again (scripts/swarm-lab up
// is idempotent) and waits until every node is ready.
func restoreLab(t *testing.T) {
	cmd := exec.Command("../../../scripts/swarm-lab", "up")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("swarm-lab up: %v\n%s", err, out)
	}
	b, _ := newBackend(t)
	waitFor(t, 2*time.Minute, func() (bool, string) {
		ns, err := b.ListNodes(context.Background())
		ready := 0
		for _, n := range ns {
			if n.State == "ready" {
				ready++
			}
		}
		return err == nil && ready == len(ns), fmt.Sprintf("%d of %d nodes ready, err %v", ready, len(ns), err)
	})
}
