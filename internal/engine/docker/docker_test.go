package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// newBackend connects to the engine at DOCKER_HOST (or the local socket),
// skipping the test when none answers (failing it with
// BERTH_REQUIRE_DOCKER=1).
func newBackend(t testing.TB) *docker.Backend {
	t.Helper()
	b, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	enginetest.RequireEngine(t, b)
	return b
}

func uniq(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func TestBackend_Contract(t *testing.T) {
	b := newBackend(t)
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	enginetest.Run(t, func(*testing.T) engine.Engine { return b }, img)
}

// Engine 20.10 creates two networks of one name when asked twice at once;
// deploys of one app racing must still all land on the same network.
func TestBackend_EnsureNetworkRace(t *testing.T) {
	b := newBackend(t)
	name := uniq("berth-race")
	const n = 6
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = b.EnsureNetwork(context.Background(), name, map[string]string{"test": "race"})
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, id := range ids { // by ID: a duplicated name is ambiguous
			if id != "" {
				_ = b.RemoveNetwork(context.Background(), id)
			}
		}
		_ = b.RemoveNetwork(context.Background(), name)
	})
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("caller %d: id %q err %v; ids %v", i, ids[i], errs[i], ids)
		}
	}
	if id, err := b.EnsureNetwork(context.Background(), name, nil); err != nil || id != ids[0] {
		t.Fatalf("after the race: %q %v, want %q", id, err, ids[0])
	}
}

func TestBackend_PullFromUnreachableRegistry(t *testing.T) {
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.PullImage(ctx, "127.0.0.1:1/berth/none:1", nil, nil)
	if err == nil || errors.Is(err, engine.ErrImageNotFound) || !strings.Contains(err.Error(), "registry could not be reached") {
		t.Fatalf("pull from a closed port: %v", err)
	}
}

// TestBackend_CreateLatency measures create+start+inspect of one container
// on its network, the step every deploy waits on per instance.
func TestBackend_CreateLatency(t *testing.T) {
	b := newBackend(t)
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	ctx := context.Background()
	app := uniq("latency")
	if _, err := b.EnsureNetwork(ctx, app, nil); err != nil {
		t.Fatal(err)
	}
	var took []time.Duration
	t.Cleanup(func() {
		cs, _ := b.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
		for _, c := range cs {
			_ = b.RemoveContainer(context.Background(), c.ID)
		}
		_ = b.RemoveNetwork(context.Background(), app)
	})
	for i := range 8 {
		start := time.Now()
		c, err := b.CreateContainer(ctx, engine.ContainerSpec{
			Name: fmt.Sprintf("%s-%d", app, i), Image: img.ID, Network: app,
			Labels: map[string]string{engine.LabelApp: app}, StopGrace: time.Second,
		})
		took = append(took, time.Since(start))
		if err != nil || !c.Running() || c.Addresses[app] == "" {
			t.Fatalf("create %d: %+v %v", i, c, err)
		}
	}
	slices.Sort(took)
	t.Logf("create+start+inspect of %d containers: min %s median %s max %s",
		len(took), took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	if took[len(took)/2] > 5*time.Second {
		t.Errorf("median create+start %s: the engine is far slower than expected", took[len(took)/2])
	}
}

func TestBackend_ArchiveContract(t *testing.T) {
	b := newBackend(t)
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	enginetest.RunArchive(t, b, img)
}
