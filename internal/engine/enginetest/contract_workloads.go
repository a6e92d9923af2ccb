package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// RunWorkloads is the contract of engine.Workloads: create, no-op
// apply, roll to a new release, roll back, scale, secrets, node
// availability, removal. template is every instance's container (an
// image that serves on port 8080, on a network the caller created);
// instances must get an Addr. It polls with deadlines, so a real cluster
// (engine/swarm) and the Fake (which settles at once) both pass it.
// Everything it creates carries a unique app label and is removed.
func RunWorkloads(t *testing.T, w engine.Workloads, template engine.ContainerSpec) {
	ctx := context.Background()
	var b [3]byte
	_, _ = rand.Read(b[:])
	app := "wlcontract-" + hex.EncodeToString(b[:])
	sel := map[string]string{engine.LabelApp: app}
	spec := engine.WorkloadSpec{Name: app + "-web", Replicas: 2, Port: 8080, Template: template,
		Update:   engine.UpdatePolicy{Parallelism: 1, Order: engine.OrderStartFirst, Monitor: time.Second},
		Rollback: engine.UpdatePolicy{Parallelism: 1, Order: engine.OrderStartFirst, Monitor: time.Second}}
	release := func(id string) {
		spec.Labels = map[string]string{engine.LabelApp: app, engine.LabelEnv: "test", engine.LabelService: "web", engine.LabelRelease: id}
		spec.Template.Env = []string{"VERSION=" + id}
	}
	t.Cleanup(func() { _ = w.RemoveWorkload(context.Background(), spec.Name) })
	serving := func(want int, rel string) []engine.Instance {
		t.Helper()
		var ins []engine.Instance
		waitFor(t, 2*time.Minute, func() (bool, string) {
			var err error
			ins, err = w.ListInstances(ctx, sel)
			n := 0
			for _, in := range ins {
				if in.Serving() && in.Labels[engine.LabelRelease] == rel && in.WorkloadName == spec.Name {
					n++
				}
			}
			return err == nil && n == want && len(ins) == want, fmt.Sprintf("%d of %d instances serving release %s (err %v)", n, len(ins), rel, err)
		})
		return ins
	}
	status := func(want engine.UpdateState) engine.WorkloadStatus {
		t.Helper()
		var st engine.WorkloadStatus
		waitFor(t, 2*time.Minute, func() (bool, string) {
			var err error
			st, err = w.InspectWorkload(ctx, spec.Name)
			return err == nil && st.Update == want, fmt.Sprintf("update %q %s (err %v)", st.Update, st.Message, err)
		})
		return st
	}

	release("1")
	id, err := w.ApplyWorkload(ctx, spec)
	if err != nil || id == "" {
		t.Fatalf("apply: %q %v", id, err)
	}
	ins := serving(2, "1")
	if ins[0].ID == ins[1].ID || ins[0].Slot == ins[1].Slot || ins[0].WorkloadID != id || ins[0].Labels[engine.LabelManaged] != "true" {
		t.Errorf("instances: %+v", ins)
	}
	st, err := w.InspectWorkload(ctx, spec.Name)
	if err != nil || st.ID != id || st.Replicas != 2 || st.HasPrevious || st.Labels[engine.LabelRelease] != "1" {
		t.Errorf("inspect: %+v %v", st, err)
	}
	if _, err := w.ApplyWorkload(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if st, _ := w.InspectWorkload(ctx, spec.Name); st.HasPrevious {
		t.Error("an unchanged apply changed the workload")
	}
	if ws, err := w.ListWorkloads(ctx, sel); err != nil || len(ws) != 1 || ws[0].Name != spec.Name {
		t.Errorf("list workloads: %+v %v", ws, err)
	}

	release("2")
	if _, err := w.ApplyWorkload(ctx, spec); err != nil {
		t.Fatal(err)
	}
	status(engine.UpdateCompleted)
	serving(2, "2")
	if err := w.RollbackWorkload(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if st := status(engine.UpdateRollbackCompleted); st.Labels[engine.LabelRelease] != "1" {
		t.Errorf("after rollback: labels %v", st.Labels)
	}
	serving(2, "1")
	if err := w.ScaleWorkload(ctx, spec.Name, 3); err != nil {
		t.Fatal(err)
	}
	serving(3, "1")

	s1, err := w.EnsureSecret(ctx, app+"-key", []byte("one"), sel)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := w.EnsureSecret(ctx, app+"-key", []byte("one"), sel); err != nil || again != s1 {
		t.Errorf("same secret again: %q %v, want %q", again, err, s1)
	}
	s2, err := w.EnsureSecret(ctx, app+"-key", []byte("two"), sel)
	if err != nil || s2 == s1 {
		t.Errorf("a new value must be a new secret: %q %v", s2, err)
	}
	if ss, err := w.ListSecrets(ctx, sel); err != nil || len(ss) != 2 {
		t.Errorf("secrets: %+v %v", ss, err)
	}
	for _, s := range []string{s1, s2, s2} {
		if err := w.RemoveSecret(ctx, s); err != nil {
			t.Errorf("remove secret %s: %v", s, err)
		}
	}

	nodes, err := w.ListNodes(ctx)
	if err != nil || len(nodes) == 0 {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
	tasks := 0
	for _, n := range nodes {
		if n.ID == "" || n.Hostname == "" || n.State != "ready" || n.Addr == "" {
			t.Errorf("node %+v", n)
		}
		tasks += n.Tasks
	}
	if tasks < 3 {
		t.Errorf("nodes count %d tasks, want at least 3", tasks)
	}
	n := nodes[len(nodes)-1].Hostname
	for _, a := range []engine.Availability{engine.AvailabilityPause, engine.AvailabilityActive} {
		if err := w.SetNodeAvailability(ctx, n, a); err != nil {
			t.Fatal(err)
		}
		ns, _ := w.ListNodes(ctx)
		if ns[len(ns)-1].Availability != a {
			t.Errorf("node %s: availability %s, want %s", n, ns[len(ns)-1].Availability, a)
		}
	}

	if err := w.RemoveWorkload(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := w.RemoveWorkload(ctx, spec.Name); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if _, err := w.InspectWorkload(ctx, spec.Name); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("inspect removed: want ErrNotFound, got %v", err)
	}
	if err := w.RollbackWorkload(ctx, spec.Name); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("roll back removed: want ErrNotFound, got %v", err)
	}
	waitFor(t, time.Minute, func() (bool, string) {
		ins, err := w.ListInstances(ctx, sel)
		return err == nil && len(ins) == 0, fmt.Sprintf("%d instances left (err %v)", len(ins), err)
	})
}
