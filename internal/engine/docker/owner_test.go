package docker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// Two berth servers on one engine see only their own containers and
// volumes (and their containers' events), and neither takes over the
// other's network or volume of the same name: it is refused with the
// owner's id. What carries no server id (made before servers had one) is
// seen by both.
func TestBackend_ServersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	plain := newBackend(t)
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	server := func(id string) *docker.Backend {
		b, err := docker.New(docker.Options{ServerID: id})
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
	t.Cleanup(func() {
		cs, _ := plain.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
		for _, c := range cs {
			_ = plain.RemoveContainer(context.Background(), c.ID)
		}
		_ = plain.RemoveNetwork(context.Background(), app)
		_ = plain.RemoveVolume(context.Background(), app)
	})

	evCtx, stopEv := context.WithCancel(ctx)
	defer stopEv()
	evB := b.Watch(evCtx)

	if _, err := a.EnsureNetwork(ctx, app, map[string]string{engine.LabelApp: app}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnsureNetwork(ctx, app, nil); !errors.Is(err, engine.ErrForeign) || !strings.Contains(err.Error(), idA) {
		t.Errorf("B's EnsureNetwork of A's network: %v, want ErrForeign naming %s", err, idA)
	}
	if _, err := a.EnsureNetwork(ctx, app, nil); err != nil {
		t.Errorf("A's EnsureNetwork of its own network: %v", err)
	}
	mk := func(be *docker.Backend, name string) engine.Container {
		c, err := be.CreateContainer(ctx, engine.ContainerSpec{Name: name, Image: img.ID, Network: app,
			Labels: map[string]string{engine.LabelApp: app}, StopGrace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := mk(a, app+"-a")
	legacy := mk(plain, app+"-legacy")
	if ca.Labels[engine.LabelServer] != idA {
		t.Errorf("A's container labels %v, want %s=%s", ca.Labels, engine.LabelServer, idA)
	}
	ids := func(be *docker.Backend) map[string]bool {
		cs, err := be.ListContainers(ctx, map[string]string{engine.LabelApp: app})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, c := range cs {
			out[c.ID] = true
		}
		return out
	}
	if got := ids(a); !got[ca.ID] || !got[legacy.ID] {
		t.Errorf("A lists %v, want its own and the legacy one", got)
	}
	if got := ids(b); got[ca.ID] || !got[legacy.ID] {
		t.Errorf("B lists %v, want the legacy one and not A's", got)
	}
	if got := ids(plain); !got[ca.ID] || !got[legacy.ID] {
		t.Errorf("a backend without id lists %v, want all", got)
	}

	if _, err := a.EnsureVolume(ctx, engine.VolumeSpec{Name: app, Labels: map[string]string{engine.LabelApp: app}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnsureVolume(ctx, engine.VolumeSpec{Name: app}); !errors.Is(err, engine.ErrForeign) {
		t.Errorf("B's EnsureVolume of A's volume: %v, want ErrForeign", err)
	}
	vs, err := b.ListVolumes(ctx, map[string]string{engine.LabelApp: app})
	if err != nil || len(vs) != 0 {
		t.Errorf("B lists A's volume: %v %v", vs, err)
	}

	// B's event stream carries the legacy container's events, not A's.
	_ = plain.StopContainer(ctx, ca.ID, time.Second)
	_ = plain.StopContainer(ctx, legacy.ID, time.Second)
	deadline := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case ev := <-evB:
			if ev.ContainerID == ca.ID {
				t.Fatalf("B got an event of A's container: %+v", ev)
			}
			seen = ev.ContainerID == legacy.ID && ev.Type == engine.EventDie
		case <-deadline:
			t.Fatal("B got no die event of the legacy container")
		}
	}
}
