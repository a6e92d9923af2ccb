package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

func newName(t *testing.T) (name, host string) {
	var b [3]byte
	_, _ = rand.Read(b[:])
	name = "swarm-" + hex.EncodeToString(b[:])
	return name, name + ".test"
}

// One Compose file, berth's usual commands, on a 3-node swarm: a 6-replica
// service deployed, rolled v1→v2 task by task under load, a broken v3
// refused and rolled back automatically, berth rollback, a node drained
// and activated again — all with zero failed requests.
func TestSwarm_DeployRollOutRollBackAndDrainUnderLoad(t *testing.T) {
	l, img := lab(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	activateAll(t, s)

	// v1: a new workload of 6 tasks over the 3 nodes.
	dep, _, err := deploy(t, s, compose(t, name, host, img.Ref, "v1", nil))
	if err != nil {
		t.Fatalf("deploy v1: %v", err)
	}
	t.Logf("v1 live in %s", dep.EndedAt.Sub(dep.StartedAt).Round(time.Millisecond))
	testutil.Eventually(t, 10*time.Second, "v1 answers", func() bool { c, b := get(t, s.addrs.HTTP, host); return c == 200 && b == "v1" })
	st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]int{}
	for _, svc := range st.Services {
		for _, c := range svc.Containers {
			if _, node, ok := strings.Cut(c.Name, "@"); ok {
				nodes[node]++
			}
		}
	}
	t.Logf("tasks per node: %v", nodes)
	// The Compose config is a Swarm config, mounted in every task.
	if c, b := getPath(t, s.addrs.HTTP, host, "/read?path=/etc/app/app.conf"); c != 200 || b != "greeting: hello from a swarm config" {
		t.Errorf("the config in the task: %d %q", c, b)
	}
	// berth logs reads the tasks' logs through the manager.
	var logs strings.Builder
	lctx, lcancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = s.client.Logs(lctx, name, spec.DefaultEnv, apiclient.LogOptions{Tail: 50}, &logs)
	lcancel()
	if err != nil || !strings.Contains(logs.String(), "testapp v1 starting") {
		t.Errorf("berth logs: %v\n%s", err, logs.String())
	}
	// Swarm spreads a new service over the nodes; one that just came back
	// (an earlier test cut it off) may still get fewer tasks.
	if len(nodes) < 2 {
		t.Errorf("the 6 tasks run on %d node(s) (%v); want them spread", len(nodes), nodes)
	} else if len(nodes) < 3 {
		t.Logf("the 6 tasks run on %d of the 3 nodes (%v)", len(nodes), nodes)
	}

	// v2: a rolling update under load, followed task by task.
	ld := startLoad(t, s.addrs.HTTP, host)
	start := time.Now()
	_, lines, err := deploy(t, s, compose(t, name, host, img.Ref, "v2", nil))
	if err != nil {
		t.Fatalf("deploy v2: %v", err)
	}
	bench(t, "berth deploy v1→v2 (rolling update of 6 tasks over 3 nodes): %s", time.Since(start).Round(time.Millisecond))
	if !slices.ContainsFunc(lines, func(s string) bool { return strings.HasPrefix(s, "task web.") && strings.Contains(s, "@node") }) {
		t.Errorf("the deploy's progress followed no task: %q", lines)
	}
	testutil.Eventually(t, 5*time.Second, "only v2 answers", func() bool { _, b := get(t, s.addrs.HTTP, host); return b == "v2" })
	ld.check(t, "rolling update v1→v2")
	bench(t, "  requests during it: %d, failed: %d", ld.ok.Load()+ld.failed.Load(), ld.failed.Load())

	// v3 never gets healthy: refused, rolled back automatically.
	ld = startLoad(t, s.addrs.HTTP, host)
	start = time.Now()
	_, lines, err = deploy(t, s, compose(t, name, host, img.Ref, "v3", map[string]string{"UNHEALTHY": "1"}))
	if err == nil {
		t.Fatal("deploy of a release that never gets healthy succeeded")
	}
	bench(t, "berth deploy v3 (never healthy): refused and rolled back automatically in %s", time.Since(start).Round(time.Millisecond))
	t.Logf("v3: %v", err)
	if !slices.ContainsFunc(lines, func(s string) bool { return strings.Contains(s, "rolled back automatically") }) {
		t.Errorf("no automatic rollback reported: %q", lines)
	}
	if c, b := get(t, s.addrs.HTTP, host); c != 200 || b != "v2" {
		t.Errorf("after the refused v3: %d %q; want v2", c, b)
	}
	ld.check(t, "refused v3, automatic rollback")
	bench(t, "  requests during it: %d, failed: %d", ld.ok.Load()+ld.failed.Load(), ld.failed.Load())

	// berth rollback: back to v1 under load.
	ld = startLoad(t, s.addrs.HTTP, host)
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	_, err = s.client.Rollback(ctx, name, spec.DefaultEnv, 0, dto.DeployOptions{}, func(p dto.Progress) { t.Logf("rollback: %6.3fs %s", p.Elapsed.Seconds(), p.Message) })
	cancel()
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	bench(t, "berth rollback v2→v1 (6 tasks): %s", time.Since(start).Round(time.Millisecond))
	testutil.Eventually(t, 5*time.Second, "only v1 answers", func() bool { _, b := get(t, s.addrs.HTTP, host); return b == "v1" })
	ld.check(t, "berth rollback to v1")
	bench(t, "  requests during it: %d, failed: %d", ld.ok.Load()+ld.failed.Load(), ld.failed.Load())

	// Drain node2 under load, then activate it again.
	ns, err := s.client.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 3 {
		t.Fatalf("berth nodes lists %d nodes; want 3", len(ns))
	}
	// The node with the most of the app's tasks.
	st, err = s.client.Status(context.Background(), name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	busiest := ""
	for _, svc := range st.Services {
		for _, c := range svc.Containers {
			if _, node, ok := strings.Cut(c.Name, "@"); ok && c.State == "running" {
				perNode[node]++
				if busiest == "" || perNode[node] > perNode[busiest] {
					busiest = node
				}
			}
		}
	}
	if busiest == "" {
		t.Fatalf("status shows no running task: %+v", st.Services)
	}
	ld = startLoad(t, s.addrs.HTTP, host)
	ch, err := s.client.SetNodeAvailability(context.Background(), busiest, "drain", 2*time.Minute)
	if err != nil {
		t.Fatalf("drain %s: %v", busiest, err)
	}
	t.Logf("drained %s (%d tasks) in %s: moved %v", busiest, perNode[busiest], ch.Took.Round(time.Millisecond), ch.Moved)
	if len(ch.Moved) < perNode[busiest] || ch.Remaining != 0 {
		t.Errorf("drain of %s moved %d task(s) (%d left); it ran %d", busiest, len(ch.Moved), ch.Remaining, perNode[busiest])
	}
	ld.check(t, "drain "+busiest)
	bench(t, "berth nodes drain %s (%d tasks): %s, requests %d, failed %d", busiest, perNode[busiest], ch.Took.Round(time.Millisecond), ld.ok.Load()+ld.failed.Load(), ld.failed.Load())
	if _, err := s.client.SetNodeAvailability(context.Background(), busiest, "active", 0); err != nil {
		t.Fatalf("activate %s: %v", busiest, err)
	}
}

// activateAll makes every node take tasks, now and when the test ends (a
// failed run must not leave a node drained for the next).
func activateAll(t *testing.T, s *server) {
	t.Helper()
	activate := func() error {
		ns, err := s.client.Nodes(context.Background())
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.Availability != "active" {
				if _, err := s.client.SetNodeAvailability(context.Background(), n.Hostname, "active", 0); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := activate(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := activate(); err != nil {
			t.Errorf("activate the lab's nodes again: %v", err)
		}
	})
}

// bench logs a figure, and prints it for make bench-swarm.
func bench(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf(format, args...)
	if os.Getenv("BERTH_BENCH_SWARM") == "1" {
		fmt.Printf("bench-swarm: "+format+"\n", args...)
	}
}
