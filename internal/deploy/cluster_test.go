package deploy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// clusterFixture is a Deployer on the Fake's cluster, whose instances
// are httptest servers answering their release's VERSION.
type clusterFixture struct {
	d     *Deployer
	f     *enginetest.Fake
	px    *proxy.Proxy
	st    *store.Store
	mu    sync.Mutex
	srvs  map[string]*httptest.Server // by VERSION and slot
	notUp map[string]bool             // VERSIONs whose /up answers 500
}

func newClusterFixture(t *testing.T) *clusterFixture {
	t.Helper()
	cf := &clusterFixture{f: enginetest.NewFake(), st: newTestStore(t), srvs: map[string]*httptest.Server{}, notUp: map[string]bool{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cf.px = proxy.New(proxy.Options{Logger: log})
	cf.f.AddImage("shop:1", "sha256:1111")
	cf.f.SetNodes([]engine.Node{
		{ID: "n1", Hostname: "node1", Addr: "127.88.0.1", Role: "manager", Availability: engine.AvailabilityActive, State: "ready"},
		{ID: "n2", Hostname: "node2", Addr: "127.88.0.2", Role: "worker", Availability: engine.AvailabilityActive, State: "ready"},
	})
	cf.f.SetInstanceAddr(func(s engine.WorkloadSpec, slot int) string {
		version := ""
		for _, e := range s.Template.Env {
			if v, ok := strings.CutPrefix(e, "VERSION="); ok {
				version = v
			}
		}
		cf.mu.Lock()
		defer cf.mu.Unlock()
		key := version + "/" + string(rune('0'+slot))
		if srv := cf.srvs[key]; srv != nil {
			return srv.Listener.Addr().String()
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cf.mu.Lock()
			down := cf.notUp[version]
			cf.mu.Unlock()
			if r.URL.Path == "/up" && down {
				http.Error(w, "not up", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, version)
		}))
		t.Cleanup(srv.Close)
		cf.srvs[key] = srv
		return srv.Listener.Addr().String()
	})
	cf.d = New(Options{Engine: cf.f, Cluster: cf.f, Store: cf.st, Proxy: cf.px, Logger: log})
	return cf
}

func clusterApp(version string) *spec.App {
	return &spec.App{Name: "shop", Services: []spec.Service{{
		Name: "web", Image: "shop:1", Replicas: 2, Port: 8080, Hosts: []string{"shop.test"},
		Environment:  map[string]string{"VERSION": version},
		Healthcheck:  spec.Healthcheck{Path: "/up", Interval: spec.Duration(20 * time.Millisecond), Timeout: spec.Duration(time.Second), HealthyThreshold: 1, UnhealthyThreshold: 2, Deadline: spec.Duration(2 * time.Second)},
		DrainTimeout: spec.Duration(time.Second),
		Rollout:      &spec.Rollout{Update: &spec.UpdateConfig{FailureAction: "rollback", Order: "start-first"}},
	}}}
}

func (cf *clusterFixture) deploy(t *testing.T, app *spec.App, opts DeployOptions) ([]string, error) {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := cf.d.Deploy(ctx, app, "production", opts, func(p Progress) {
		mu.Lock()
		lines = append(lines, p.Message)
		mu.Unlock()
	})
	return lines, err
}

func (cf *clusterFixture) get(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://shop.test/", nil)
	cf.px.ServeHTTP(rec, req)
	return rec.Body.String()
}

func TestDeployer_ClusterDeployRollsOutAndRoutesTasks(t *testing.T) {
	cf := newClusterFixture(t)
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ws, err := cf.f.ListWorkloads(context.Background(), map[string]string{engine.LabelApp: "shop"})
	if err != nil || len(ws) != 1 || ws[0].Name != "shop-production-web" || ws[0].Replicas != 2 {
		t.Fatalf("workloads = %+v, %v; want shop-production-web with 2 replicas", ws, err)
	}
	if got := cf.get(t); got != "v1" {
		t.Fatalf("GET through the proxy = %q; want v1", got)
	}
	lines, err := cf.deploy(t, clusterApp("v2"), DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.get(t); got != "v2" {
		t.Fatalf("after v2: GET = %q; want v2", got)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"rolling out release 2", "task web.1@node1: running (release 2)", "release 2 is live"} {
		if !strings.Contains(joined, want) {
			t.Errorf("progress lacks %q:\n%s", want, joined)
		}
	}
	st, err := cf.d.Status(context.Background(), "shop", "production")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Services[0].Containers); n != 2 || !strings.Contains(st.Services[0].Containers[0].Name, "@node") {
		t.Errorf("status containers = %+v; want 2 tasks named service.slot@node", st.Services[0].Containers)
	}
	// A canary is refused on a cluster, before anything changes.
	if _, err := cf.deploy(t, clusterApp("v3"), DeployOptions{Canary: 10}); err == nil || !strings.Contains(err.Error(), "--canary is not supported") {
		t.Errorf("canary on a cluster: err = %v", err)
	}
	if got := cf.get(t); got != "v2" {
		t.Errorf("after the refused canary: GET = %q; want v2", got)
	}
}

func TestDeployer_ClusterRolloutFailureRollsBackAutomatically(t *testing.T) {
	cf := newClusterFixture(t)
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	cf.f.FailNextRollout("shop-production-web", "task exited with code 1")
	lines, err := cf.deploy(t, clusterApp("v2"), DeployOptions{})
	if err == nil {
		t.Fatal("a rollout the cluster rolled back went live")
	}
	if !strings.Contains(strings.Join(lines, "\n"), "rolled it back automatically") {
		t.Errorf("no automatic rollback reported:\n%s", strings.Join(lines, "\n"))
	}
	if live, _ := cf.st.LiveRelease("shop", "production"); live.ID != 1 {
		t.Errorf("live release = %d; want 1", live.ID)
	}
	if got := cf.get(t); got != "v1" {
		t.Errorf("GET = %q; want v1", got)
	}

	// berth's own gate: v3's tasks run but never pass the HTTP check.
	cf.mu.Lock()
	cf.notUp["v3"] = true
	cf.mu.Unlock()
	lines, err = cf.deploy(t, clusterApp("v3"), DeployOptions{})
	if err == nil || !strings.Contains(err.Error(), "did not pass the health check GET /up") {
		t.Fatalf("unhealthy v3: err = %v", err)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "rolling back automatically") {
		t.Errorf("berth did not roll the workload back:\n%s", strings.Join(lines, "\n"))
	}
	st, _ := cf.f.InspectWorkload(context.Background(), "shop-production-web")
	if st.Labels[engine.LabelRelease] != "1" {
		t.Errorf("workload runs release %s after the refused v3; want 1", st.Labels[engine.LabelRelease])
	}
}

func TestDeployer_ClusterRollbackUsesThePreviousSpecWhenItIsTheTarget(t *testing.T) {
	cf := newClusterFixture(t)
	for _, v := range []string{"v1", "v2"} {
		if _, err := cf.deploy(t, clusterApp(v), DeployOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	_, err := cf.d.Rollback(context.Background(), "shop", "production", 0, DeployOptions{}, func(p Progress) { lines = append(lines, p.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "Swarm rolls back to its previous spec (release 1)") {
		t.Errorf("rollback did not use the previous spec:\n%s", strings.Join(lines, "\n"))
	}
	if got := cf.get(t); got != "v1" {
		t.Errorf("GET = %q; want v1", got)
	}
}

func TestDeployer_NodesNeedACluster(t *testing.T) {
	d := New(Options{Engine: enginetest.NewFake(), Store: newTestStore(t), Proxy: proxy.New(proxy.Options{})})
	if _, err := d.Nodes(context.Background()); !errors.Is(err, ErrNotCluster) {
		t.Errorf("Nodes on one host: %v; want ErrNotCluster", err)
	}
	cf := newClusterFixture(t)
	ns, err := cf.d.Nodes(context.Background())
	if err != nil || len(ns) != 2 || ns[0].Hostname != "node1" {
		t.Fatalf("Nodes = %+v, %v", ns, err)
	}
	if _, err := cf.deploy(t, clusterApp("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := cf.d.SetNodeAvailability(context.Background(), "node2", "drain", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Moved) != 1 || !strings.Contains(ch.Moved[0], "@node2 → node1") {
		t.Errorf("drain moved %v; want the one task of node2 onto node1", ch.Moved)
	}
	if _, err := cf.d.SetNodeAvailability(context.Background(), "node2", "sideways", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad availability: %v", err)
	}
}

func TestDeployer_ConfigsBecomeClusterConfigs(t *testing.T) {
	cf := newClusterFixture(t)
	app := clusterApp("v1")
	app.Services[0].Configs = []spec.ConfigFile{{Name: "app_conf", Target: "/etc/shop/app.conf", Content: "listen 8080;\n", Mode: 0o440}}
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ws, ok := cf.f.AppliedWorkload("shop-production-web")
	if !ok || len(ws.Configs) != 1 {
		t.Fatalf("applied workload configs: %+v", ws.Configs)
	}
	c := ws.Configs[0]
	b, stored := cf.f.ConfigData(c.Config)
	if !strings.HasPrefix(c.Config, "berth-shop-production-web-app_conf-") || c.Target != "/etc/shop/app.conf" || c.Mode != 0o440 ||
		!stored || string(b) != "listen 8080;\n" {
		t.Errorf("config mount %+v, stored %v %q", c, stored, b)
	}

}

// When every task of a route changes address at once (their node
// rejoined), the route keeps its pool until the successor has a healthy
// target, instead of swapping onto a pool that answers 503.
func TestDeployer_ClusterRouteWaitsForAHealthySuccessor(t *testing.T) {
	cf := newClusterFixture(t)
	app := clusterApp("v1")
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	key := routeKey("shop", "production", "web")
	before, _ := cf.px.Route(key)
	var up sync.Mutex
	ready := false
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.Lock()
		ok := ready
		up.Unlock()
		if r.URL.Path == "/up" && !ok {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "v1 moved")
	}))
	t.Cleanup(moved.Close)
	labels := map[string]string{engine.LabelManaged: "true", engine.LabelApp: "shop", engine.LabelEnv: "production", engine.LabelService: "web", engine.LabelRelease: "1"}
	insts := []engine.Instance{{ID: "task-new", WorkloadName: "shop-production-web", Slot: 1, Node: "node1", State: engine.StateRunning,
		Desired: engine.DesiredRunning, Addr: moved.Listener.Addr().String(), Labels: labels}}
	ctx := context.Background()
	for range 5 {
		cf.d.syncClusterRoutes(ctx, app, "production", "1", insts)
		if p, _ := cf.px.Route(key); p != before {
			t.Fatal("the route was swapped onto a successor with no healthy target")
		}
	}
	if got := cf.get(t); got != "v1" {
		t.Fatalf("while the successor is unhealthy: GET = %q; want the old pool's v1", got)
	}
	up.Lock()
	ready = true
	up.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cf.d.syncClusterRoutes(ctx, app, "production", "1", insts)
		if p, _ := cf.px.Route(key); p != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the healthy successor was never routed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := cf.get(t); got != "v1 moved" {
		t.Errorf("after the swap: GET = %q; want v1 moved", got)
	}
}
