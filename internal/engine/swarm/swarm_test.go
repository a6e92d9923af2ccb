package swarm_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/engine/swarm"
	"github.com/berth-dev/berth/internal/engine/swarm/swarmtest"
)

func TestMain(m *testing.M) { swarmtest.Main(m) }

// labNodes returns the engine addresses of the swarm under test: the
// nodes of scripts/swarm-lab, node1 (a manager) first, or
// BERTH_SWARM_HOST alone. It skips the test when there is none, or fails
// it when BERTH_REQUIRE_SWARM=1.
func labNodes(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a swarm; skipped with -short")
	}
	if h := os.Getenv("BERTH_SWARM_HOST"); h != "" {
		return []string{h}
	}
	lab, ok := swarmtest.Load()
	if !ok {
		if os.Getenv("BERTH_REQUIRE_SWARM") == "1" {
			t.Fatal("BERTH_REQUIRE_SWARM=1 but there is no swarm lab (run scripts/swarm-lab up)")
		}
		t.Skip("no swarm lab: run scripts/swarm-lab up")
	}
	return lab.Hosts
}

// newBackend connects to the lab's first manager and makes sure every
// node has the test image (built on the host engine, then loaded into the
// nodes: the lab has no registry).
func newBackend(t *testing.T) (*swarm.Backend, enginetest.TestImage) {
	t.Helper()
	nodes := labNodes(t)
	b, err := swarm.New(swarm.Options{Host: nodes[0]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	if _, err := b.Ping(ctx); err != nil {
		if os.Getenv("BERTH_REQUIRE_SWARM") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	swarmtest.LoadImage(t, nodes, img)
	return b, img
}

// The container-shaped contract, without the parts that dial task
// addresses from the test process (they live on the lab's overlay, in the
// nodes' namespaces) or need per-container runtime control Swarm lacks.
func TestBackend_Contract(t *testing.T) {
	b, img := newBackend(t)
	enginetest.Run(t, func(*testing.T) engine.Engine { return b }, img, enginetest.WithoutRuntime(), enginetest.WithCommands())
}

// The engine.Workloads contract, on the lab's overlay.
func TestBackend_WorkloadsContract(t *testing.T) {
	b, img := newBackend(t)
	net := "berth-wlcontract"
	if _, err := b.EnsureNetwork(context.Background(), net, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.RemoveNetwork(context.Background(), net) })
	enginetest.RunWorkloads(t, b, engine.ContainerSpec{Image: img.Ref, Network: net, StopGrace: 5 * time.Second})
}
