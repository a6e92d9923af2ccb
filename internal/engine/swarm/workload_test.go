package swarm_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/engine/swarm"
	"github.com/berth-dev/berth/internal/engine/swarm/swarmtest"
)

func uniq(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// waitFor polls cond every 50ms until it holds, failing with its last
// description after d.
func waitFor(t *testing.T, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not so after %s: %s", d, why)
		}
		<-tick.C
	}
}

// fixture is one workload of the test image on its own overlay.
type fixture struct {
	b      *swarm.Backend
	img    enginetest.TestImage
	app    string
	labels map[string]string
	spec   engine.WorkloadSpec
}

// newWorkload prepares (does not apply) a workload of replicas instances
// of the test image answering VERSION=v1, publishing 8080, with an
// engine-run health check on /up, rolled start-first two at a time with
// failure_action rollback. It is removed, with its network, at the end.
func newWorkload(t *testing.T, replicas uint64) *fixture {
	t.Helper()
	b, img := newBackend(t)
	f := &fixture{b: b, img: img, app: uniq("wl")}
	net := "berth-" + f.app + "-test"
	f.labels = map[string]string{engine.LabelApp: f.app, engine.LabelEnv: "test", engine.LabelService: "web"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.RemoveWorkload(ctx, f.spec.Name); err != nil {
			t.Errorf("remove workload: %v", err)
		}
		if err := b.RemoveNetwork(ctx, net); err != nil {
			t.Errorf("remove network: %v", err)
		}
	})
	if _, err := b.EnsureNetwork(context.Background(), net, map[string]string{engine.LabelApp: f.app}); err != nil {
		t.Fatal(err)
	}
	f.spec = engine.WorkloadSpec{
		Name: f.app + "-test-web", Replicas: replicas, Port: 8080,
		Template: engine.ContainerSpec{Image: img.Ref, Network: net, Aliases: []string{"web"}, StopGrace: 10 * time.Second,
			Check: &engine.Check{Test: []string{"CMD", "/testapp", "get", "http://127.0.0.1:8080/up"}, Interval: 500 * time.Millisecond, Timeout: time.Second, Retries: 2}},
		Update:   engine.UpdatePolicy{Parallelism: 2, Order: engine.OrderStartFirst, FailureAction: engine.FailureRollback, Monitor: 2 * time.Second},
		Rollback: engine.UpdatePolicy{Parallelism: 2, Order: engine.OrderStartFirst, Monitor: time.Second},
	}
	f.release("1", "VERSION=v1")
	return f
}

// release sets the spec's release label and environment.
func (f *fixture) release(id string, env ...string) {
	f.spec.Labels = map[string]string{engine.LabelApp: f.app, engine.LabelEnv: "test", engine.LabelService: "web", engine.LabelRelease: id}
	f.spec.Template.Env = env
}

// serving waits until want instances serve, all of release rel.
func (f *fixture) serving(t *testing.T, d time.Duration, want int, rel string) []engine.Instance {
	t.Helper()
	var ins []engine.Instance
	waitFor(t, d, func() (bool, string) {
		var err error
		ins, err = f.b.ListInstances(context.Background(), f.labels)
		n, other := 0, 0
		for _, in := range ins {
			if in.Serving() {
				n++
				if in.Labels[engine.LabelRelease] != rel {
					other++
				}
			}
		}
		return err == nil && n == want && other == 0 && len(ins) == want,
			fmt.Sprintf("%d serving (%d not release %s) of %d instances, err %v", n, other, rel, len(ins), err)
	})
	return ins
}

// settled waits until want instances of release rel serve and no
// instance, serving or not, is left on node away.
func (f *fixture) settled(t *testing.T, d time.Duration, want int, rel, away string) {
	t.Helper()
	waitFor(t, d, func() (bool, string) {
		ins, err := f.b.ListInstances(context.Background(), f.labels)
		n, left := 0, 0
		for _, in := range ins {
			if in.Node == away {
				left++
			} else if in.Serving() && in.Labels[engine.LabelRelease] == rel {
				n++
			}
		}
		return err == nil && n == want && left == 0, fmt.Sprintf("%d of release %s serving, %d left on %s, err %v", n, rel, left, away, err)
	})
}

// update waits until the workload's rollout reaches state.
func (f *fixture) update(t *testing.T, d time.Duration, state engine.UpdateState) engine.WorkloadStatus {
	t.Helper()
	var st engine.WorkloadStatus
	waitFor(t, d, func() (bool, string) {
		var err error
		st, err = f.b.InspectWorkload(context.Background(), f.spec.Name)
		return err == nil && st.Update == state, fmt.Sprintf("update %q (%s), %d running, err %v", st.Update, st.Message, st.Running, err)
	})
	return st
}

// The API without traffic: instances spread over the nodes with
// addresses, labels, scale, nodes and their reservations, secrets.
func TestWorkload_InstancesNodesSecrets(t *testing.T) {
	f := newWorkload(t, 3)
	ctx := context.Background()
	f.spec.Resources = engine.Resources{ReserveMemoryBytes: 8 << 20, LimitMemoryBytes: 64 << 20}
	f.spec.Placement = engine.Placement{MaxPerNode: 1}
	sec, err := f.b.EnsureSecret(ctx, f.app+"-token", []byte("s3cret"), f.labels)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.b.RemoveSecret(context.Background(), sec) })
	if again, err := f.b.EnsureSecret(ctx, f.app+"-token", []byte("s3cret"), f.labels); err != nil || again != sec || sec != swarm.SecretName(f.app+"-token", []byte("s3cret")) {
		t.Fatalf("ensure secret again: %q %v (first %q)", again, err, sec)
	}
	f.spec.Secrets = []engine.SecretMount{{Secret: sec, Target: "token"}}
	id, err := f.b.ApplyWorkload(ctx, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	ins := f.serving(t, time.Minute, 3, "1")
	nodes := map[string]bool{}
	for _, in := range ins {
		nodes[in.Node] = true
		if in.WorkloadID != id || in.WorkloadName != f.spec.Name || in.Addr == "" || in.Health != "healthy" || in.Image != f.img.ID {
			t.Errorf("instance %+v", in)
		}
	}
	if len(nodes) != 3 {
		t.Errorf("max 1 per node: instances on %v", nodes)
	}
	if _, err := f.b.ApplyWorkload(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.b.InspectWorkload(ctx, f.spec.Name); st.HasPrevious || st.Running != 3 || st.Replicas != 3 {
		t.Errorf("an unchanged apply must not update: %+v", st)
	}
	if err := f.b.RemoveSecret(ctx, sec); err == nil {
		t.Error("removing a secret in use: want an error")
	}
	ss, err := f.b.ListSecrets(ctx, f.labels)
	if err != nil || len(ss) != 1 || ss[0].Name != sec {
		t.Errorf("secrets: %+v %v", ss, err)
	}
	ns, err := f.b.ListNodes(ctx)
	if err != nil || len(ns) < 3 {
		t.Fatalf("nodes: %+v %v", ns, err)
	}
	var reserved int64
	for _, n := range ns {
		if n.Addr == "" || n.State != "ready" || n.Availability != engine.AvailabilityActive || n.MemoryBytes == 0 || n.EngineVersion == "" {
			t.Errorf("node %+v", n)
		}
		reserved += n.ReservedMemoryBytes
	}
	if reserved < 3*(8<<20) {
		t.Errorf("nodes reserve %d bytes, want at least 3×8MiB", reserved)
	}
	if err := f.b.SetNodeAvailability(ctx, ns[0].Hostname, "sideways"); err == nil {
		t.Error("bad availability accepted")
	}
	if err := f.b.ScaleWorkload(ctx, f.spec.Name, 2); err != nil {
		t.Fatal(err)
	}
	f.serving(t, time.Minute, 2, "1")
	if ws, err := f.b.ListWorkloads(ctx, f.labels); err != nil || len(ws) != 1 || ws[0].Replicas != 2 {
		t.Errorf("workloads: %+v %v", ws, err)
	}
}

// benchLine prints a figure for make bench-swarm.
func benchLine(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("bench-swarm: "+format, args...)
	if os.Getenv("BERTH_BENCH_SWARM") != "" {
		fmt.Printf("bench-swarm: "+format+"\n", args...)
	}
}

var _ = swarmtest.InNode1
