package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/testutil"
)

// appReplicas is the harness's routed service with deploy.replicas n.
func (h *switchHarness) appReplicas(tag string, n int, drain string) *spec.App {
	h.t.Helper()
	p := filepath.Join(h.dir, fmt.Sprintf("compose-%s-%d.yaml", tag, n))
	yaml := fmt.Sprintf(`name: shop
services:
  web:
    image: shop:%s
    deploy: { replicas: %d }
    x-berth:
      port: 8080
      hosts: [shop.test]
      healthcheck: { path: /up, interval: 50ms, timeout: 1s }
      drain_timeout: %s
`, tag, n, drain)
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		h.t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		h.t.Fatal(err)
	}
	return app
}

// running are shop's running containers of release rel, by ID.
func (h *switchHarness) running(rel string) []engine.Container {
	h.t.Helper()
	cs, err := h.f.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop", engine.LabelRelease: rel})
	if err != nil {
		h.t.Fatal(err)
	}
	return slices.DeleteFunc(cs, func(c engine.Container) bool { return !c.Running() })
}

// heldServer makes shop:tag's containers answer as the harness's do,
// and tells which container holds each GET /hold (on held, by ID).
func (h *switchHarness) heldServer(tag string) <-chan string {
	held := make(chan string, 64)
	h.f.Serve(h.t, "shop:"+tag, 8080, func(c engine.Container) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				held <- c.ID
				select {
				case <-h.hold:
					io.WriteString(w, "held "+tag)
				case <-r.Context().Done():
				}
				return
			}
			io.WriteString(w, tag)
		})
	})
	return held
}

// holdOnOneOf sends GET /hold requests (each held until h.hold is
// closed) until one is held by a container for which pick is true, and
// returns the answers of all it sent.
func (h *switchHarness) holdOnOneOf(heldBy <-chan string, pick func(engine.Container) bool) []<-chan heldAnswer {
	h.t.Helper()
	byID := map[string]engine.Container{}
	for _, c := range h.running("1") {
		byID[c.ID] = c
	}
	var out []<-chan heldAnswer
	for range 12 {
		ch := make(chan heldAnswer, 1)
		out = append(out, ch)
		go func() {
			req, _ := http.NewRequest("GET", h.front.URL+"/hold", nil)
			req.Host = "shop.test"
			c := &http.Client{Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			resp, err := c.Do(req)
			if err != nil {
				ch <- heldAnswer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			ch <- heldAnswer{code: resp.StatusCode, body: string(b), err: err}
		}()
		select {
		case id := <-heldBy:
			if pick(byID[id]) {
				return out
			}
		case <-time.After(5 * time.Second):
			h.t.Fatal("a GET /hold was not held within 5s")
		}
	}
	h.t.Fatal("no held request landed on a container that scale-in removes")
	return nil
}

// Scale-out and scale-in of a routed service under a constant stream of
// requests, in process: 2 → 4 starts two replicas of the live release
// and routes them once healthy; 4 → 1 takes three out of rotation at
// once, and while a long request stays open on one of them the scale
// returns, the request completes, and the three are stopped only after
// their drain. No request fails. The scale is recorded (deployment of
// kind scale with who and from → to, the count in the store, events,
// status), and a later deploy of the same file keeps the scaled count
// while one whose deploy.replicas changed runs the file's.
func TestDeployer_ScaleInProcessDropsNoRequest(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	heldBy := h.heldServer("1")
	ctx := WithActor(context.Background(), "alice")
	if _, err := h.d.Deploy(ctx, h.appReplicas("1", 2, "30s"), "", DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy release 1: %v", err)
	}
	stop := make(chan struct{})
	flowing, wait := h.load(4, stop)
	stopped := false
	stopLoad := func() (map[string]int, []string) {
		if !stopped {
			stopped = true
			close(stop)
		}
		return wait()
	}
	t.Cleanup(func() { stopLoad() })
	select {
	case <-flowing:
	case <-time.After(10 * time.Second):
		t.Fatal("no traffic through the proxy within 10s")
	}

	var said []string
	start := time.Now()
	out, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 4}}, func(p Progress) { said = append(said, p.Message) })
	if err != nil {
		t.Fatalf("scale 2 → 4: %v", err)
	}
	t.Logf("scale 2 → 4 took %s:\n%s", time.Since(start).Round(time.Millisecond), strings.Join(said, "\n"))
	if out.Kind != store.KindScale || out.Status != store.DeploymentSucceeded || out.CreatedBy != "alice" || out.ReleaseID != 1 ||
		!slices.Equal(out.Scaled, []store.ScaleChange{{Service: "web", From: 2, To: 4}}) || !out.Counted || out.Failed != 0 {
		t.Errorf("scale-out deployment = %+v", out)
	}
	p, _ := h.d.proxy.Route(routeKey("shop", "production", "web"))
	if p == nil || len(p.Status()) != 4 || p.Healthy() != 4 {
		t.Fatalf("after scale-out the route has %v", p.Status())
	}
	if n := len(h.running("1")); n != 4 {
		t.Fatalf("%d containers of release 1 run, want 4", n)
	}

	// One long request held on a replica that scale-in removes (the
	// highest indexes go).
	held := h.holdOnOneOf(heldBy, func(c engine.Container) bool { return replicaIndex(c) > 1 })
	said = nil
	start = time.Now()
	in, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 1}}, func(p Progress) { said = append(said, p.Message) })
	took := time.Since(start)
	if err != nil {
		t.Fatalf("scale 4 → 1: %v", err)
	}
	t.Logf("scale 4 → 1 took %s with %d request(s) held:\n%s", took.Round(time.Millisecond), len(held), strings.Join(said, "\n"))
	if took > 10*time.Second {
		t.Errorf("scale-in took %s: it waited for the drain (30s)", took)
	}
	if got := strings.Join(said, "\n"); !strings.Contains(got, "3 taken out of rotation") || !strings.Contains(got, "draining 3 container(s) of web in the background") {
		t.Errorf("scale-in progress:\n%s", got)
	}
	if h.d.Busy("shop", "production") {
		t.Error("the app is still locked after the scale returned")
	}
	p, _ = h.d.proxy.Route(routeKey("shop", "production", "web"))
	if st := p.Status(); len(st) != 1 || replicaIndex(engine.Container{Name: st[0].Target.Name, Labels: map[string]string{
		engine.LabelApp: "shop", engine.LabelEnv: "production", engine.LabelService: "web", engine.LabelRelease: "1"}}) != 1 {
		t.Errorf("after scale-in the route has %v, want replica 1 alone", st)
	}
	// Out of rotation, still running: they drain.
	if n := len(h.running("1")); n != 4 {
		t.Errorf("%d containers run while the held request drains, want 4", n)
	}
	close(h.hold)
	for _, ch := range held {
		select {
		case a := <-ch:
			if a.err != nil || a.code != http.StatusOK || a.body != "held 1" {
				t.Errorf("a held request ended %d %q %v, want it to complete", a.code, a.body, a.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a held request did not complete")
		}
	}
	testutil.Eventually(t, 15*time.Second, "the 3 removed containers gone", func() bool {
		cs, _ := h.f.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop"})
		return len(cs) == 1
	})
	answers, failures := stopLoad()
	t.Logf("answers %v, %d failed", answers, len(failures))
	if len(failures) > 0 {
		t.Errorf("%d request(s) failed during the scales; first: %s", len(failures), failures[0])
	}
	if in.Failed != 0 || !slices.Equal(in.Scaled, []store.ScaleChange{{Service: "web", From: 4, To: 1}}) {
		t.Errorf("scale-in deployment = %+v", in)
	}
	// The drain's outcome is added to the scale's record.
	testutil.Eventually(t, 5*time.Second, "the drain on the scale's timeline", func() bool {
		dep, err := h.d.store.GetDeployment(in.ID)
		return err == nil && strings.Contains(dep.Timeline[len(dep.Timeline)-1].Message, "in the background: drained web release 1 in")
	})

	// Recorded: the count in the store, events, status.
	sc, err := h.d.store.Scales("shop", "production")
	if err != nil || sc["web"].Replicas != 1 || sc["web"].File != 2 || sc["web"].From != 4 || sc["web"].By != "alice" {
		t.Errorf("scales = %+v, %v", sc, err)
	}
	evs, _ := h.d.Events("shop", "production", 0)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+": "+e.Message)
	}
	if got := strings.Join(kinds, "\n"); !strings.Contains(got, "scaled: scaled web from 4 to 1 replica(s) by alice") ||
		!strings.Contains(got, "scaled: scaled web from 2 to 4 replica(s) by alice") || !strings.Contains(got, "stopped 3 old container(s) of web") {
		t.Errorf("events:\n%s", got)
	}
	st, err := h.d.Status(context.Background(), "shop", "production")
	if err != nil || len(st.Services) != 1 || st.Services[0].Replicas != 1 || len(st.Services[0].Containers) != 1 {
		t.Errorf("status: %+v, %v", st.Services, err)
	}

	// The replicas rule: the same file keeps the scaled count...
	if _, err := h.d.Deploy(ctx, h.appReplicas("2", 2, "1s"), "", DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy release 2: %v", err)
	}
	if n := len(h.running("2")); n != 1 {
		t.Errorf("release 2 (deploy.replicas still 2) runs %d, want the scaled 1", n)
	}
	if body, err := h.get(http.DefaultClient); err != nil || body != "2" {
		t.Errorf("after release 2: %q, %v", body, err)
	}
	// ...and converge keeps it too.
	if err := h.d.Converge(context.Background(), "shop", "production"); err != nil || len(h.running("2")) != 1 {
		t.Errorf("converge: %v, %d running", err, len(h.running("2")))
	}
	// A file that changes deploy.replicas wins, and the scale is gone.
	if _, err := h.d.Deploy(ctx, h.appReplicas("2", 3, "1s"), "", DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy release 3: %v", err)
	}
	if n := len(h.running("3")); n != 3 {
		t.Errorf("release 3 (deploy.replicas 3) runs %d, want the file's 3", n)
	}
	if sc, _ := h.d.store.Scales("shop", "production"); len(sc) != 0 {
		t.Errorf("the file's new count left the scale: %+v", sc)
	}
}

// A scale-out whose new container never gets healthy is refused at the
// health deadline: the new container is removed, the route keeps its
// replicas, nothing is recorded as scaled.
func TestDeployer_ScaleOutOfAnUnhealthyReplicaChangesNothing(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	var started int
	f.Serve(t, "shop:1", 8080, func(c engine.Container) http.Handler {
		started++
		sick := started > 1 // the replica the scale adds
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sick {
				http.Error(w, "sick", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "ok")
		})
	})
	d := fakeDeployer(t, f)
	ctx := context.Background()
	app := &spec.App{Name: "shop", Services: []spec.Service{{Name: "web", Image: "shop:1", Replicas: 1, Port: 8080, Hosts: []string{"shop.test"},
		StopGracePeriod: spec.Duration(time.Second), DrainTimeout: spec.Duration(time.Second),
		Healthcheck: spec.Healthcheck{Path: "/up", Interval: spec.Duration(20 * time.Millisecond), Timeout: spec.Duration(time.Second),
			HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Second)}}}}
	if _, err := d.Deploy(ctx, app, "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	dep, err := d.Scale(ctx, "shop", "production", []ScaleTarget{{"web", 2}}, nil)
	if err == nil || !strings.Contains(err.Error(), "did not pass") || !strings.Contains(err.Error(), "release 1 keeps running as it was") {
		t.Fatalf("scale to an unhealthy replica: %v", err)
	}
	if dep.Status != store.DeploymentFailed || dep.Kind != store.KindScale {
		t.Errorf("deployment = %+v", dep)
	}
	cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"})
	if len(cs) != 1 {
		t.Errorf("%d containers after the refused scale, want the 1 that was", len(cs))
	}
	if p, _ := d.proxy.Route(routeKey("shop", "production", "web")); p == nil || len(p.Status()) != 1 || p.Healthy() != 1 {
		t.Errorf("route after the refused scale: %v", p)
	}
	if sc, _ := d.store.Scales("shop", "production"); len(sc) != 0 {
		t.Errorf("a refused scale was recorded: %+v", sc)
	}
	if r, _ := d.store.LiveRelease("shop", "production"); r.ID != 1 || r.Status != store.StatusLive {
		t.Errorf("live release after a refused scale: %d %s", r.ID, r.Status)
	}
}

// A worker (no x-berth.port) scales too, gated on staying up: 1 → 3 → 0.
func TestDeployer_ScaleAWorker(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	d := fakeDeployer(t, f)
	ctx := context.Background()
	if _, err := d.Deploy(ctx, workerApp("shop:1"), "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"})
		return len(slices.DeleteFunc(cs, func(c engine.Container) bool { return !c.Running() }))
	}
	start := time.Now()
	if _, err := d.Scale(ctx, "shop", "production", []ScaleTarget{{"worker", 3}}, nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < workerSettle {
		t.Errorf("scale-out of a worker took %s: it did not wait for the new ones to stay up", took)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d workers run, want 3", n)
	}
	if _, err := d.Scale(ctx, "shop", "production", []ScaleTarget{{"worker", 0}}, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "no worker left", func() bool { return count() == 0 })
	st, _ := d.Status(ctx, "shop", "production")
	if len(st.Services) != 1 || st.Services[0].Replicas != 0 {
		t.Errorf("status: %+v", st.Services)
	}
}

// A scale waits for nothing and interleaves with nothing: while a
// deployment of the app environment holds its lock, or a canary runs,
// it is refused saying what to do; it needs a live release.
func TestDeployer_ScaleSerialisesWithDeploysAndCanaries(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	if _, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 2}}, nil); err == nil {
		t.Error("a scale of an unknown app was accepted")
	}
	if _, err := h.d.Deploy(ctx, h.app("1"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.Scale(ctx, "shop", "staging", []ScaleTarget{{"web", 2}}, nil); err == nil {
		t.Error("a scale of an environment with nothing live was accepted")
	}

	unlock, err := h.d.tryLock("shop", "production", store.KindDeploy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 3}}, nil)
	unlock()
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "wait for it to finish") {
		t.Errorf("scale during a deploy: %v", err)
	}

	if _, err := h.d.Deploy(ctx, h.app("2"), "", DeployOptions{Canary: 10}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 3}}, nil)
	if !errors.Is(err, ErrCanary) || !strings.Contains(err.Error(), "promote or roll back the canary first") {
		t.Errorf("scale during a canary: %v", err)
	}
	if _, err := h.d.Rollback(ctx, "shop", "", 0, DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 3}}, nil); err != nil {
		t.Errorf("scale once the canary is gone: %v", err)
	}
	// Scaling to the count it has changes and records nothing.
	var said []string
	if _, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 3}}, func(p Progress) { said = append(said, p.Message) }); err != nil ||
		!strings.Contains(strings.Join(said, "\n"), "web already runs 3 replica(s)") {
		t.Errorf("a no-op scale: %v\n%s", err, strings.Join(said, "\n"))
	}
	evs, _ := h.d.Events("shop", "production", 0)
	n := 0
	for _, e := range evs {
		if e.Kind == "scaled" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d scaled events, want the one that changed the count", n)
	}
}
