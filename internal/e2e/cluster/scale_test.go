package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// scaleCompose is a Compose file of one web service of the test image
// with replicas tasks, and extra lines under its x-berth (indented by
// six spaces).
func scaleCompose(t *testing.T, name, host, image string, replicas int, xberth string) *spec.App {
	t.Helper()
	return scaleComposeReserving(t, name, host, image, replicas, xberth, "8M")
}

// scaleComposeReserving is scaleCompose with each task reserving memory
// (deploy.resources.reservations.memory).
func scaleComposeReserving(t *testing.T, name, host, image string, replicas int, xberth, memory string) *spec.App {
	t.Helper()
	y := fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: "v1" }
    stop_grace_period: 2s
    deploy:
      replicas: %d
      resources: { reservations: { memory: %s } }
      update_config: { parallelism: 2, order: start-first, failure_action: rollback, monitor: 1s }
    x-berth:
      port: 8080
      hosts: [%q]
      drain_timeout: 5s
      healthcheck: { path: /up, interval: 200ms, timeout: 1s, deadline: 20s }
%s`, name, image, replicas, memory, host, xberth)
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, y)
	}
	return app
}

// scale runs berth scale APP web=n through the API and returns its
// progress lines.
func scale(t *testing.T, s *server, app string, n int) (*dto.Deployment, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var lines []string
	dep, err := s.client.Scale(ctx, app, spec.DefaultEnv, []dto.ScaleTarget{{Service: "web", Replicas: n}}, func(p dto.Progress) {
		t.Logf("scale %s web=%d: %6.3fs %s", app, n, p.Elapsed.Seconds(), p.Message)
		lines = append(lines, p.Message)
	})
	if err != nil {
		t.Fatalf("scale web=%d: %v", n, err)
	}
	return dep, lines
}

// webStatus is the web service's status line and its tasks per node.
func webStatus(t *testing.T, s *server, app string) (dto.ServiceStatus, map[string]int) {
	t.Helper()
	st, err := s.client.Status(context.Background(), app, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range st.Services {
		if svc.Name != "web" {
			continue
		}
		nodes := map[string]int{}
		for _, c := range svc.Containers {
			if _, node, ok := strings.Cut(c.Name, "@"); ok && c.State == "running" {
				nodes[node]++
			}
		}
		return svc, nodes
	}
	t.Fatalf("status of %s has no web service: %+v", app, st.Services)
	return dto.ServiceStatus{}, nil
}

// berth scale on --engine swarm, 2 → 5 → 1 under constant load: the
// new tasks spread over the nodes and get traffic once healthy, the
// tasks a scale-in removes are drained before Swarm stops them, no
// request fails, status counts the replicas, and the scales are recorded
// (not as releases) without reporting the removed tasks as failures.
func TestSwarm_ScaleUnderLoad(t *testing.T) {
	l, img := lab(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	activateAll(t, s)

	if _, _, err := deploy(t, s, scaleCompose(t, name, host, img.Ref, 2, "")); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "v1 answers", func() bool { c, b := get(t, s.addrs.HTTP, host); return c == 200 && b == "v1" })

	ld := startLoad(t, s.addrs.HTTP, host)
	start := time.Now()
	dep, lines := scale(t, s, name, 5)
	bench(t, "berth scale web=2→5 on the swarm lab: %s", time.Since(start).Round(time.Millisecond))
	if dep.Kind != "scale" {
		t.Errorf("the scale is recorded as %q, want a deployment of kind scale", dep.Kind)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "healthy web 5/5") }) {
		t.Errorf("the scale-out did not wait for 5 healthy tasks: %q", lines)
	}
	svc, nodes := webStatus(t, s, name)
	t.Logf("after web=5: %d/%d healthy, tasks per node %v", svc.Healthy, svc.Replicas, nodes)
	if svc.Replicas != 5 || svc.Healthy != 5 {
		t.Errorf("status after web=5: %d/%d healthy, want 5/5", svc.Healthy, svc.Replicas)
	}
	if total(nodes) != 5 || len(nodes) < 2 {
		t.Errorf("the 5 tasks run on %v; want them on more than one node", nodes)
	}
	if svc.Scale == nil || svc.Scale.Replicas != 5 || svc.Scale.From != 2 {
		t.Errorf("status records no scale 2 → 5: %+v", svc.Scale)
	}
	// Every task serves.
	testutil.Eventually(t, 10*time.Second, "requests reach all 5 tasks", func() bool {
		st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
		if err != nil {
			return false
		}
		served := 0
		for _, c := range st.Services[0].Containers {
			if c.Served > 0 && c.State == "running" {
				served++
			}
		}
		return served == 5
	})

	// Requests in flight on the tasks that go: each outlasts the 2 s
	// Docker waits before it stops a task and its stop_grace_period (2s),
	// so it succeeds only if berth drained it before Swarm was told.
	slow := make(chan string, 10)
	for range cap(slow) {
		go func() {
			c, b := getPath(t, s.addrs.HTTP, host, "/slow?ms=4500")
			slow <- fmt.Sprintf("%d %s", c, b)
		}()
	}
	testutil.Eventually(t, 10*time.Second, "10 slow requests in flight", func() bool {
		svc, _ := webStatus(t, s, name)
		var n int64
		for _, c := range svc.Containers {
			n += c.InFlight
		}
		return n >= 10
	})
	start = time.Now()
	_, lines = scale(t, s, name, 1)
	bench(t, "berth scale web=5→1 on the swarm lab: %s", time.Since(start).Round(time.Millisecond))
	drainedAt := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "web: drained in") })
	stopsAt := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "Swarm stops web.") })
	if drainedAt < 0 || stopsAt < drainedAt {
		t.Errorf("the scale-in did not drain the tasks before Swarm stopped them: %q", lines)
	}
	if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "berth had not drained") }) {
		t.Errorf("Swarm removed a task berth had not drained: %q", lines)
	}
	for range cap(slow) {
		if r := <-slow; r != "200 v1" {
			t.Errorf("a request in flight on a task the scale-in removed: %s", r)
		}
	}
	testutil.Eventually(t, 30*time.Second, "status shows web 1/1 healthy and no task left running", func() bool {
		svc, nodes := webStatus(t, s, name)
		return svc.Replicas == 1 && svc.Healthy == 1 && total(nodes) == 1
	})
	ld.check(t, "scale 2 → 5 → 1")

	// The tasks the scale removed leave the metrics: one healthy target,
	// no series of a target down.
	tok, err := os.ReadFile(filepath.Join(s.dataDir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.API+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	series := regexp.MustCompile(`(?m)^berth_target_healthy\{app="`+name+`",[^}]*\} ([0-9]+)$`).FindAllStringSubmatch(string(b), -1)
	if len(series) != 1 || series[0][1] != "1" {
		t.Errorf("target health series after the scale to 1: %q; want one, healthy (HTTP %d)", series, resp.StatusCode)
	}
	bench(t, "  requests during 2→5→1: %d, failed: %d", ld.ok.Load()+ld.failed.Load(), ld.failed.Load())

	// Recorded: who, from → to; not a release; no failure reported.
	rels, err := s.client.Releases(context.Background(), name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 1 {
		t.Errorf("%d releases after two scales, want the one deployed", len(rels))
	}
	evs, err := s.client.Events(context.Background(), name, spec.DefaultEnv, 100)
	if err != nil {
		t.Fatal(err)
	}
	var scaled []string
	for _, e := range evs {
		t.Logf("event %s %s: %s", e.Kind, e.Service, e.Message)
		switch e.Kind {
		case "scaled":
			scaled = append(scaled, e.Message)
		case "died", "failed", "oom", "unhealthy", "replaced":
			t.Errorf("a task removed by the scale is reported as a failure: %s: %s", e.Kind, e.Message)
		}
	}
	for _, want := range []string{"scaled web from 2 to 5", "scaled web from 5 to 1"} {
		if !slices.ContainsFunc(scaled, func(m string) bool { return strings.HasPrefix(m, want) }) {
			t.Errorf("no event %q in %q", want, scaled)
		}
	}
}

// Swarm places a scale-out's tasks by deploy.resources.reservations: with
// room for two tasks per node, a scale to 7 places 6 over the 3 nodes and
// leaves one pending (no node has room). berth refuses the scale, saying
// why, and goes back to the count it had, draining first: no request
// fails.
func TestSwarm_ScaleOutBeyondRoomGoesBack(t *testing.T) {
	l, img := lab(t)
	dc, err := client.NewClientWithOpts(client.WithHost(l.Hosts[0]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	nodes, err := dc.NodeList(context.Background(), dswarm.NodeListOptions{})
	if err != nil || len(nodes) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	least := nodes[0].Description.Resources.MemoryBytes
	for _, n := range nodes {
		least = min(least, n.Description.Resources.MemoryBytes)
	}
	reserve := fmt.Sprintf("%dM", least*2/5>>20) // two fit on a node, three do not
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	activateAll(t, s)
	if _, _, err := deploy(t, s, scaleComposeReserving(t, name, host, img.Ref, 2, "", reserve)); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "v1 answers", func() bool { c, b := get(t, s.addrs.HTTP, host); return c == 200 && b == "v1" })
	ld := startLoad(t, s.addrs.HTTP, host)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var lines []string
	start := time.Now()
	_, err = s.client.Scale(ctx, name, spec.DefaultEnv, []dto.ScaleTarget{{Service: "web", Replicas: 7}}, func(p dto.Progress) {
		t.Logf("scale web=7: %6.3fs %s", p.Elapsed.Seconds(), p.Message)
		lines = append(lines, p.Message)
	})
	if err == nil {
		t.Fatalf("a scale to 7 tasks with room for 6 went through:\n%s", strings.Join(lines, "\n"))
	}
	t.Logf("refused in %s: %v", time.Since(start).Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), "insufficient resources") || !strings.Contains(err.Error(), "add a node, lower the reservations, or scale to fewer") {
		t.Errorf("the refusal does not say no node has room: %v", err)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "healthy web 6/7") }) {
		t.Errorf("6 of the 7 tasks were not placed and healthy: %q", lines)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "web: drained in") }) {
		t.Errorf("going back to 2 did not drain first: %q", lines)
	}
	testutil.Eventually(t, 30*time.Second, "web back at 2/2 healthy, 2 tasks running", func() bool {
		svc, nodes := webStatus(t, s, name)
		return svc.Replicas == 2 && svc.Healthy == 2 && total(nodes) == 2
	})
	ld.check(t, "scale to 7 refused, back to 2")
}

// Past 12 tasks Swarm's scale-in choice depends on Go's pdqsort among
// tasks of equal rank: berth's prediction follows it (scale 20 → 7 → 3
// drains exactly the tasks Swarm removes, each time).
func TestSwarm_ScaleInPredictsSwarmPast12Tasks(t *testing.T) {
	l, img := lab(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	activateAll(t, s)
	if _, _, err := deploy(t, s, scaleCompose(t, name, host, img.Ref, 2, "")); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	ld := startLoad(t, s.addrs.HTTP, host)
	scale(t, s, name, 20)
	for _, n := range []int{7, 3} {
		_, lines := scale(t, s, name, n)
		if slices.ContainsFunc(lines, func(l string) bool {
			return strings.Contains(l, "berth had not drained") || strings.Contains(l, "Swarm kept")
		}) {
			t.Errorf("web=%d: berth's prediction of Swarm's choice was wrong: %q", n, lines)
		}
	}
	ld.check(t, "scale 2 → 20 → 7 → 3")
}
