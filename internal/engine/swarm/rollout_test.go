package swarm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/swarm/swarmtest"
)

const loadWorkers = 4

// underLoad applies f's workload of six instances, routes a berth proxy
// to them through a follower, starts the load and waits until all six
// take traffic.
func underLoad(t *testing.T, f *fixture) (*follower, *loadGen) {
	t.Helper()
	swarmtest.RequireNode1(t)
	if _, err := f.b.ApplyWorkload(context.Background(), f.spec); err != nil {
		t.Fatal(err)
	}
	ins := f.serving(t, 2*time.Minute, int(f.spec.Replicas), "1")
	nodes := map[string]int{}
	for _, in := range ins {
		nodes[in.Node]++
	}
	t.Logf("%d instances on %v", len(ins), nodes)
	if len(nodes) < 3 {
		t.Errorf("6 instances on %d nodes, want 3: %v", len(nodes), nodes)
	}
	host := f.app + ".test"
	fw := follow(t, f.b, f.labels, host)
	l := startLoad(t, fw.px, host, loadWorkers)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return len(fw.routed()) == len(ins) && l.served("v1") > 100, fmt.Sprintf("%d routed, %d served", len(fw.routed()), l.served("v1"))
	})
	return fw, l
}

// phase runs one step under load, reports its requests, and fails the
// test when any failed.
func phase(t *testing.T, l *loadGen, name string, step func()) (time.Duration, tally) {
	t.Helper()
	took, d := phaseCounting(t, l, name, step)
	if d.failed > 0 {
		t.Errorf("%s: %d failed requests:\n%s", name, d.failed, l.failures())
	}
	return took, d
}

// phaseCounting runs one step under load and reports its requests.
func phaseCounting(t *testing.T, l *loadGen, name string, step func()) (time.Duration, tally) {
	t.Helper()
	t0, start := l.tally(), time.Now()
	l.takeSlowest()
	step()
	took, d := time.Since(start), l.since(t0)
	t.Logf("%s: %s, %d requests served, %d failed, slowest %s", name, took.Round(10*time.Millisecond), d.ok, d.failed, l.takeSlowest().Round(time.Millisecond))
	return took, d
}

// Six instances over three nodes under constant load through berth's
// proxy: rolled v1→v2 start-first two at a time, rolled back to v1, sent
// a release whose instances never get healthy (Swarm's failure_action
// rollback brings v1 back), and a node drained and reactivated, each with
// zero failed requests.
func TestWorkload_RolloutUnderLoad(t *testing.T) {
	f := newWorkload(t, 6)
	_, l := underLoad(t, f)
	ctx := context.Background()

	took, d := phase(t, l, "rolling update v1→v2 (6 replicas, parallelism 2, start-first)", func() {
		f.release("2", "VERSION=v2")
		if _, err := f.b.ApplyWorkload(ctx, f.spec); err != nil {
			t.Fatal(err)
		}
		f.update(t, 3*time.Minute, engine.UpdateCompleted)
		f.serving(t, time.Minute, 6, "2")
		waitFor(t, 10*time.Second, func() (bool, string) { return l.served("v2") > 100, "v2 answers" })
	})
	benchLine(t, "rolling update of 6 replicas under load: %d failed of %d requests, %.2fs to complete", d.failed, d.ok+d.failed, took.Seconds())

	took, d = phase(t, l, "rollback v2→v1 (RollbackWorkload)", func() {
		served := l.served("v1")
		if err := f.b.RollbackWorkload(ctx, f.spec.Name); err != nil {
			t.Fatal(err)
		}
		f.update(t, 3*time.Minute, engine.UpdateRollbackCompleted)
		f.serving(t, time.Minute, 6, "1")
		waitFor(t, 10*time.Second, func() (bool, string) { return l.served("v1") > served+100, "v1 answers again" })
	})
	benchLine(t, "rollback of 6 replicas under load: %d failed of %d requests, %.2fs to complete", d.failed, d.ok+d.failed, took.Seconds())

	took, d = phase(t, l, "update to a release that never gets healthy (auto rollback)", func() {
		f.release("3", "VERSION=v3", "UNHEALTHY=1")
		if _, err := f.b.ApplyWorkload(ctx, f.spec); err != nil {
			t.Fatal(err)
		}
		st := f.update(t, 3*time.Minute, engine.UpdateRollbackCompleted)
		t.Logf("swarm: %s", st.Message)
		f.serving(t, time.Minute, 6, "1")
	})
	if n := l.served("v3"); n > 0 {
		t.Errorf("the unhealthy release answered %d requests", n)
	}
	benchLine(t, "failed update rolled back automatically under load: %d failed of %d requests, %.2fs from the update to rollback completed", d.failed, d.ok+d.failed, took.Seconds())

	nodes, err := f.b.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	drained := nodes[1].Hostname
	took, d = phase(t, l, "drain "+drained, func() {
		if err := f.b.SetNodeAvailability(ctx, drained, engine.AvailabilityDrain); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.b.SetNodeAvailability(context.Background(), drained, engine.AvailabilityActive) })
		f.settled(t, 2*time.Minute, 6, "1", drained)
	})
	benchLine(t, "drain of a node under load: %d failed of %d requests, %.2fs until its instances ran elsewhere", d.failed, d.ok+d.failed, took.Seconds())
	if err := f.b.SetNodeAvailability(ctx, drained, engine.AvailabilityActive); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		ns, err := f.b.ListNodes(ctx)
		return err == nil && ns[1].Availability == engine.AvailabilityActive, fmt.Sprintf("%+v %v", ns, err)
	})
}
