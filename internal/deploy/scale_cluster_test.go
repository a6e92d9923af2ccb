package deploy

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/testutil"
)

func (cf *clusterFixture) scale(t *testing.T, n int) ([]string, error) {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	ctx, cancel := context.WithTimeout(WithActor(context.Background(), "alice"), 20*time.Second)
	defer cancel()
	_, err := cf.d.Scale(ctx, "shop", "production", []ScaleTarget{{Service: "web", Replicas: n}}, func(p Progress) {
		mu.Lock()
		lines = append(lines, p.Message)
		mu.Unlock()
	})
	return lines, err
}

// inRotation counts the targets of web's route the proxy has healthy.
func (cf *clusterFixture) inRotation(t *testing.T) int {
	t.Helper()
	pool, _ := cf.px.Route(proxy.RouteKey{App: "shop", Env: "production", Service: "web"})
	if pool == nil {
		t.Fatal("web has no route")
	}
	return pool.Healthy()
}

func TestDeployer_ClusterScaleOutAndInRecordsAndRoutes(t *testing.T) {
	cf := newClusterFixture(t)
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	lines, err := cf.scale(t, 4)
	if err != nil {
		t.Fatalf("scale web=4: %v\n%s", err, strings.Join(lines, "\n"))
	}
	ws, _ := cf.f.InspectWorkload(context.Background(), "shop-production-web")
	if ws.Replicas != 4 || cf.inRotation(t) != 4 {
		t.Fatalf("after web=4: workload %d replicas, %d in rotation; want 4 and 4\n%s", ws.Replicas, cf.inRotation(t), strings.Join(lines, "\n"))
	}
	if !strings.Contains(strings.Join(lines, "\n"), "healthy web 4/4") {
		t.Errorf("the scale-out did not wait for health:\n%s", strings.Join(lines, "\n"))
	}
	st, err := cf.d.Status(context.Background(), "shop", "production")
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Services[0]; s.Replicas != 4 || s.Healthy != 4 || s.Scale == nil || s.Scale.From != 2 || s.Scale.By != "alice" {
		t.Errorf("status after web=4: %d/%d healthy, scale %+v; want 4/4 by alice from 2", s.Healthy, s.Replicas, s.Scale)
	}

	lines, err = cf.scale(t, 1)
	if err != nil {
		t.Fatalf("scale web=1: %v\n%s", err, strings.Join(lines, "\n"))
	}
	joined := strings.Join(lines, "\n")
	// The fake, as Swarm on a balanced layout, removes the highest slots:
	// berth drained exactly those, before it lowered the count.
	drained := strings.Index(joined, "web: drained in")
	stops := strings.Index(joined, "Swarm stops web.2@node2, web.3@node1, web.4@node2")
	if drained < 0 || stops < drained || strings.Contains(joined, "had not drained") {
		t.Errorf("scale-in did not drain Swarm's choice first:\n%s", joined)
	}
	if cf.inRotation(t) != 1 || cf.get(t) != "v1" {
		t.Errorf("after web=1: %d in rotation, GET %q", cf.inRotation(t), cf.get(t))
	}
	deps, err := cf.st.ListDeployments("shop", "production", 1)
	if err != nil || len(deps) != 1 || deps[0].Kind != store.KindScale || len(deps[0].Scaled) != 1 || deps[0].Scaled[0].From != 4 || deps[0].Scaled[0].To != 1 {
		t.Fatalf("last deployment %+v, %v; want a scale 4 → 1", deps, err)
	}
	rels, _ := cf.st.ListReleases("shop", "production")
	if len(rels) != 1 {
		t.Errorf("%d releases after the scales, want 1", len(rels))
	}

	// The replicas rule: a deploy of a file that still says 2 keeps 1.
	if _, err := cf.deploy(t, clusterApp("v2"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ws, _ = cf.f.InspectWorkload(context.Background(), "shop-production-web")
	if ws.Replicas != 1 {
		t.Errorf("after a deploy of the same deploy.replicas: %d replicas, want the scaled 1", ws.Replicas)
	}
	// A file that changes deploy.replicas speaks last.
	app := clusterApp("v3")
	app.Services[0].Replicas = 3
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ws, _ = cf.f.InspectWorkload(context.Background(), "shop-production-web")
	if ws.Replicas != 3 {
		t.Errorf("after a deploy of deploy.replicas 3: %d replicas, want 3", ws.Replicas)
	}
}

func TestDeployer_ClusterScaleOutThatNeverGetsHealthyGoesBack(t *testing.T) {
	cf := newClusterFixture(t)
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	// The two tasks keep their servers; a new one has nothing listening.
	cf.f.SetInstanceAddr(func(s engine.WorkloadSpec, slot int) string {
		cf.mu.Lock()
		defer cf.mu.Unlock()
		if srv := cf.srvs["v1/"+string(rune('0'+slot))]; srv != nil && slot <= 2 {
			return srv.Listener.Addr().String()
		}
		return "127.0.0.1:1" // nothing listens
	})
	lines, err := cf.scale(t, 3)
	if err == nil {
		t.Fatalf("a scale-out whose task never gets healthy went through:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.Contains(err.Error(), "did not pass the health check") {
		t.Errorf("err = %v; want it to name the health check", err)
	}
	ws, _ := cf.f.InspectWorkload(context.Background(), "shop-production-web")
	if ws.Replicas != 2 || cf.inRotation(t) != 2 || cf.get(t) != "v1" {
		t.Errorf("after the failed scale: %d replicas, %d in rotation; want 2, 2", ws.Replicas, cf.inRotation(t))
	}
	if sc, _ := cf.st.Scales("shop", "production"); len(sc) != 0 {
		t.Errorf("a failed scale is recorded: %+v", sc)
	}
}

// Swarm's previous spec keeps the count a scale set; a rollback to a
// release whose scale its successor's file overrode runs the file's
// count, as on one host, so it does not use that spec.
func TestDeployer_ClusterRollbackFollowsTheReplicasRule(t *testing.T) {
	cf := newClusterFixture(t)
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	if lines, err := cf.scale(t, 4); err != nil {
		t.Fatalf("scale: %v\n%s", err, strings.Join(lines, "\n"))
	}
	app := clusterApp("v2")
	app.Services[0].Replicas = 3 // the file speaks: the scale is forgotten
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	var lines []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cf.d.Rollback(ctx, "shop", "production", 0, DeployOptions{}, func(p Progress) { lines = append(lines, p.Message) }); err != nil {
		t.Fatalf("rollback: %v\n%s", err, strings.Join(lines, "\n"))
	}
	ws, _ := cf.f.InspectWorkload(context.Background(), "shop-production-web")
	if ws.Replicas != 2 || cf.get(t) != "v1" {
		t.Errorf("after the rollback: %d replicas, GET %q; want release 1's file's 2 and v1\n%s", ws.Replicas, cf.get(t), strings.Join(lines, "\n"))
	}
}

// skewedCluster reports web.1 and web.2 on node1 and web.3 on node2,
// where the Fake places them round robin and removes the highest slots:
// Swarm's rule predicts web.2 goes on a scale to 2, the Fake takes web.3.
type skewedCluster struct{ *enginetest.Fake }

func (s skewedCluster) ListInstances(ctx context.Context, labels map[string]string) ([]engine.Instance, error) {
	insts, err := s.Fake.ListInstances(ctx, labels)
	for i := range insts {
		insts[i].NodeID, insts[i].Node = "n1", "node1"
		if insts[i].Slot == 3 {
			insts[i].NodeID, insts[i].Node = "n2", "node2"
		}
	}
	return insts, err
}

func TestDeployer_ClusterScaleInRoutesByWhatSwarmChose(t *testing.T) {
	cf := newClusterFixture(t)
	cf.d = New(Options{Engine: cf.f, Cluster: skewedCluster{cf.f}, Store: cf.st, Proxy: cf.px, Logger: cf.d.log})
	app := clusterApp("v1")
	app.Services[0].Replicas = 3
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	lines, err := cf.scale(t, 2)
	if err != nil {
		t.Fatalf("scale web=2: %v\n%s", err, strings.Join(lines, "\n"))
	}
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, "took web.2@node1 out of rotation") || !strings.Contains(joined, "Swarm kept 1 drained task(s)") {
		t.Errorf("progress does not say berth drained web.2 and Swarm kept it:\n%s", joined)
	}
	// web.3 is gone; web.2, which Swarm kept, is back once healthy.
	var names []string
	defer func() { t.Logf("in rotation: %v", names) }()
	testutil.Eventually(t, 5*time.Second, "web.1 and web.2 in rotation", func() bool {
		names = nil
		pool, _ := cf.px.Route(proxy.RouteKey{App: "shop", Env: "production", Service: "web"})
		for _, s := range pool.Status() {
			if s.Healthy {
				names = append(names, s.Name)
			}
		}
		slices.Sort(names)
		return strings.Join(names, ",") == "web.1@node1,web.2@node1"
	})
}

// startingCluster reports the tasks of slots above 2 as starting (not
// running, no address yet) until ready, as Swarm does while a node pulls
// and starts them.
type startingCluster struct {
	*enginetest.Fake
	ready *atomic.Bool
}

func (s startingCluster) ListInstances(ctx context.Context, labels map[string]string) ([]engine.Instance, error) {
	insts, err := s.Fake.ListInstances(ctx, labels)
	for i := range insts {
		if insts[i].Slot > 2 && !s.ready.Load() {
			insts[i].State, insts[i].Addr = engine.StateCreated, ""
		}
	}
	return insts, err
}

// While a scale runs, status shows the count it goes to, and the tasks
// it starts are not replacements.
func TestDeployer_ClusterStatusDuringAScale(t *testing.T) {
	cf := newClusterFixture(t)
	var ready atomic.Bool
	cf.d = New(Options{Engine: cf.f, Cluster: startingCluster{cf.f, &ready}, Store: cf.st, Proxy: cf.px, Logger: cf.d.log})
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := cf.scale(t, 4); done <- err }()
	testutil.Eventually(t, 10*time.Second, "status shows 2/4 healthy, nothing replacing, during the scale", func() bool {
		st, err := cf.d.Status(context.Background(), "shop", "production")
		if err != nil || len(st.Services) == 0 {
			return false
		}
		s := st.Services[0]
		return st.Deploying && s.Replicas == 4 && s.Healthy == 2 && s.Replacing == 0 && len(s.Containers) == 4
	})
	ready.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ := cf.d.Status(context.Background(), "shop", "production")
	if s := st.Services[0]; s.Replicas != 4 || s.Healthy != 4 {
		t.Errorf("after the scale: %d/%d healthy, want 4/4", s.Healthy, s.Replicas)
	}
}
