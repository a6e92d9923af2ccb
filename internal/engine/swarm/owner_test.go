package swarm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/swarm"
)

// Two berth servers on one swarm: what one makes (its service and the
// service's task containers, overlay, volume, secret) carries its id;
// the other does not list it, and is refused, with the owner's id, when
// it would update, roll back, inspect or remove that service, or take
// over or remove that network or volume. A backend without an id (as
// before servers had one) sees both.
func TestBackend_ServersLeaveEachOthersObjectsAlone(t *testing.T) {
	nodes := labNodes(t)
	plain, img := newBackend(t)
	server := func(id string) *swarm.Backend {
		b, err := swarm.New(swarm.Options{Host: nodes[0], ServerID: id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	idA, idB := uniq("a"), uniq("b")
	a, b := server(idA), server(idB)
	ctx := context.Background()
	app := uniq("owner")
	net := "berth-" + app + "-test"
	name := app + "-test-web"
	labels := map[string]string{engine.LabelApp: app, engine.LabelEnv: "test", engine.LabelService: "web"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := a.RemoveWorkload(ctx, name); err != nil {
			t.Errorf("remove workload: %v", err)
		}
		if err := a.RemoveNetwork(ctx, net); err != nil {
			t.Errorf("remove network: %v", err)
		}
		_ = a.RemoveVolume(ctx, app)
		if ss, err := a.ListSecrets(ctx, labels); err == nil {
			for _, s := range ss {
				_ = a.RemoveSecret(ctx, s.Name)
			}
		}
	})
	foreign := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, engine.ErrForeign) || !strings.Contains(err.Error(), idA) {
			t.Errorf("B's %s of A's: %v, want ErrForeign naming %s", what, err, idA)
		}
	}

	if _, err := a.EnsureNetwork(ctx, net, map[string]string{engine.LabelApp: app, engine.LabelEnv: "test"}); err != nil {
		t.Fatal(err)
	}
	_, err := b.EnsureNetwork(ctx, net, nil)
	foreign("EnsureNetwork", err)
	_, err = b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: net})
	foreign("EnsureNetworkSpec", err)
	if _, err := a.EnsureNetwork(ctx, net, nil); err != nil {
		t.Errorf("A's EnsureNetwork of its own network: %v", err)
	}
	sec, err := a.EnsureSecret(ctx, app+"-key", []byte("k1"), labels)
	if err != nil {
		t.Fatal(err)
	}
	w := engine.WorkloadSpec{Name: name, Replicas: 1, Labels: labels,
		Template: engine.ContainerSpec{Image: img.Ref, Network: net, StopGrace: 2 * time.Second, Env: []string{"VERSION=a"}},
		Secrets:  []engine.SecretMount{{Secret: sec, Target: "key"}}}
	if _, err := a.ApplyWorkload(ctx, w); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, func() (bool, string) {
		st, err := a.InspectWorkload(ctx, name)
		return err == nil && st.Running == 1, "A's workload not running"
	})
	insts, err := a.ListInstances(ctx, labels)
	if err != nil || len(insts) != 1 || insts[0].Labels[engine.LabelServer] != idA {
		t.Errorf("A's tasks %+v (%v), want one whose container carries %s=%s", insts, err, engine.LabelServer, idA)
	}
	if ws, err := a.ListWorkloads(ctx, labels); err != nil || len(ws) != 1 || ws[0].Labels[engine.LabelServer] != idA {
		t.Errorf("A's workloads %+v (%v), want its one, labelled %s", ws, err, idA)
	}

	if ws, err := b.ListWorkloads(ctx, labels); err != nil || len(ws) != 0 {
		t.Errorf("B lists A's workloads: %+v %v", ws, err)
	}
	if cs, err := b.ListContainers(ctx, labels); err != nil || len(cs) != 0 {
		t.Errorf("B lists A's services as containers: %+v %v", cs, err)
	}
	if in, err := b.ListInstances(ctx, labels); err != nil || len(in) != 0 {
		t.Errorf("B lists A's tasks: %+v %v", in, err)
	}
	if ns, err := b.NetworksByLabel(ctx, labels); err != nil || len(ns) != 0 {
		t.Errorf("B lists A's networks: %v %v", ns, err)
	}
	if ss, err := b.ListSecrets(ctx, labels); err != nil || len(ss) != 0 {
		t.Errorf("B lists A's secrets: %+v %v", ss, err)
	}
	_, err = b.InspectWorkload(ctx, name)
	foreign("InspectWorkload", err)
	w2 := w
	w2.Template.Env = []string{"VERSION=b"}
	_, err = b.ApplyWorkload(ctx, w2)
	foreign("ApplyWorkload", err)
	foreign("ScaleWorkload", b.ScaleWorkload(ctx, name, 3))
	foreign("RollbackWorkload", b.RollbackWorkload(ctx, name))
	foreign("StopContainer", b.StopContainer(ctx, name, time.Second))
	foreign("RemoveWorkload", b.RemoveWorkload(ctx, name))
	foreign("RemoveNetwork", b.RemoveNetwork(ctx, net))
	_, err = b.CreateContainer(ctx, engine.ContainerSpec{Name: name, Image: img.Ref, Network: net})
	foreign("CreateContainer", err)

	if _, err := a.EnsureVolume(ctx, engine.VolumeSpec{Name: app, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	_, err = b.EnsureVolume(ctx, engine.VolumeSpec{Name: app})
	foreign("EnsureVolume", err)
	if vs, err := b.ListVolumes(ctx, labels); err != nil || len(vs) != 0 {
		t.Errorf("B lists A's volume: %+v %v", vs, err)
	}

	// A's service is as A left it: one task of its spec, running.
	st, err := a.InspectWorkload(ctx, name)
	if err != nil || st.Replicas != 1 || st.Running != 1 || st.HasPrevious {
		t.Errorf("A's workload after B's attempts: %+v %v, want 1 replica running, never updated", st, err)
	}
	if ws, err := plain.ListWorkloads(ctx, labels); err != nil || len(ws) != 1 {
		t.Errorf("a backend without id lists %+v %v, want A's workload", ws, err)
	}
}
