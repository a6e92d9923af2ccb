package enginetest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// The fake keeps servers apart as the backends do: what server a makes
// carries its id, server b neither lists it nor takes it over or removes
// it (refused naming a), and a fake without an id sees everything.
func TestFake_ServersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1")
	ctx := context.Background()
	labels := map[string]string{engine.LabelApp: "shop"}
	f.SetServerID("a")
	if _, err := f.EnsureNetwork(ctx, "net", labels); err != nil {
		t.Fatal(err)
	}
	if _, err := f.EnsureVolume(ctx, engine.VolumeSpec{Name: "vol", Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "c", Image: "shop:1", Network: "net", Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ApplyWorkload(ctx, engine.WorkloadSpec{Name: "w", Replicas: 1, Labels: labels, Template: engine.ContainerSpec{Image: "shop:1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.EnsureSecret(ctx, "s", []byte("x"), labels); err != nil {
		t.Fatal(err)
	}
	if in, _ := f.ListInstances(ctx, labels); len(in) != 1 || in[0].Labels[engine.LabelServer] != "a" {
		t.Errorf("a's instances %+v, want one labelled a", in)
	}

	f.SetServerID("b")
	foreign := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, engine.ErrForeign) || !strings.Contains(err.Error(), "server id a") {
			t.Errorf("b's %s of a's: %v, want ErrForeign naming a", what, err)
		}
	}
	_, err := f.EnsureNetwork(ctx, "net", nil)
	foreign("EnsureNetwork", err)
	_, err = f.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: "net"})
	foreign("EnsureNetworkSpec", err)
	foreign("RemoveNetwork", f.RemoveNetwork(ctx, "net"))
	_, err = f.EnsureVolume(ctx, engine.VolumeSpec{Name: "vol"})
	foreign("EnsureVolume", err)
	foreign("RemoveVolume", f.RemoveVolume(ctx, "vol"))
	_, err = f.ApplyWorkload(ctx, engine.WorkloadSpec{Name: "w", Replicas: 2, Template: engine.ContainerSpec{Image: "shop:1"}})
	foreign("ApplyWorkload", err)
	_, err = f.InspectWorkload(ctx, "w")
	foreign("InspectWorkload", err)
	foreign("ScaleWorkload", f.ScaleWorkload(ctx, "w", 3))
	foreign("RemoveWorkload", f.RemoveWorkload(ctx, "w"))
	if cs, _ := f.ListContainers(ctx, labels); len(cs) != 0 {
		t.Errorf("b lists a's containers: %+v", cs)
	}
	if ws, _ := f.ListWorkloads(ctx, labels); len(ws) != 0 {
		t.Errorf("b lists a's workloads: %+v", ws)
	}
	if vs, _ := f.ListVolumes(ctx, labels); len(vs) != 0 {
		t.Errorf("b lists a's volumes: %+v", vs)
	}
	if ss, _ := f.ListSecrets(ctx, labels); len(ss) != 0 {
		t.Errorf("b lists a's secrets: %+v", ss)
	}
	if ns, _ := f.NetworksByLabel(ctx, labels); len(ns) != 0 {
		t.Errorf("b lists a's networks: %v", ns)
	}

	f.SetServerID("")
	ws, _ := f.ListWorkloads(ctx, labels)
	if len(ws) != 1 || ws[0].Replicas != 1 {
		t.Errorf("without an id: workloads %+v, want a's one, unchanged", ws)
	}
	if cs, _ := f.ListContainers(ctx, labels); len(cs) != 1 {
		t.Errorf("without an id: containers %+v, want a's one", cs)
	}
}
