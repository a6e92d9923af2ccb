package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// heldBackend answers "/hold" only when release is closed (or the
// request is cut), everything else with its name.
func heldBackend(t *testing.T, name string, release <-chan struct{}) *backend {
	t.Helper()
	return newBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			w.Header().Set("Content-Length", "4")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-release:
				io.WriteString(w, "done")
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, name)
	})
}

type heldResult struct {
	code int
	body string
	err  error
}

// hold sends GET /hold to host and returns where its answer arrives.
func hold(t *testing.T, srv *httptest.Server, host string) <-chan heldResult {
	t.Helper()
	out := make(chan heldResult, 1)
	go func() {
		req, _ := http.NewRequest("GET", srv.URL+"/hold", nil)
		req.Host = host
		resp, err := srv.Client().Do(req)
		if err != nil {
			out <- heldResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- heldResult{code: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

func TestProxy_SwitchReturnsWhileTheOldPoolStillServes(t *testing.T) {
	t.Parallel()
	px, srv := newProxyServer(t)
	release := make(chan struct{})
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, heldBackend(t, "v1", release))
	held := hold(t, srv, "shop.test")
	testutil.Eventually(t, 5*time.Second, "the held request on v1", func() bool { return p1.InFlight() == 1 })

	v2 := newBackend(t, "v2", nil)
	v2.up.Store(false)
	p2 := newPool(t, keyA, "r2", fastHealth(), v2)
	// Not healthy in time: nothing changes, the pool stays the caller's.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := px.Switch(ctx, SwitchRequest{Key: keyA, Hosts: []string{"shop.test"}, Pool: p2, Healthy: 1})
	cancel()
	if err == nil {
		t.Fatal("switched to a pool with no healthy target")
	}
	if cur, _ := px.Route(keyA); cur != p1 {
		t.Fatalf("route changed by a refused switch: %v", cur.Release())
	}

	v2.up.Store(true)
	dr, err := px.Switch(context.Background(), SwitchRequest{Key: keyA, Hosts: []string{"shop.test"}, Pool: p2, Healthy: 1, DrainTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if dr == nil || dr.Release != "r1" || dr.Deadline.Sub(dr.Started) != time.Minute {
		t.Fatalf("drain handle %+v", dr)
	}
	// Switch returned with the request still held on v1.
	select {
	case <-dr.Done():
		t.Fatal("drain ended with a request in flight")
	default:
	}
	if ds := px.Draining(); len(ds) != 1 || ds[0].Key != keyA || ds[0].Release != "r1" || ds[0].InFlight != 1 {
		t.Fatalf("draining %+v", ds)
	}
	if code, body := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 || body != "v2" {
		t.Fatalf("after the switch: %d %q", code, body)
	}

	close(release)
	if r := <-held; r.err != nil || r.code != 200 || r.body != "done" {
		t.Fatalf("held request: %+v", r)
	}
	<-dr.Done()
	if res := dr.Result(); res.Cut != 0 || res.Stopped {
		t.Fatalf("drain result %+v", res)
	}
	if ds := px.Draining(); len(ds) != 0 {
		t.Fatalf("still draining: %+v", ds)
	}
}

func TestProxy_SwitchDrainsSideBySideEachToItsDeadline(t *testing.T) {
	t.Parallel()
	px, srv := newProxyServer(t)
	never := make(chan struct{})
	pa := routeTo(t, px, keyA, []string{"shop.test"}, heldBackend(t, "a1", never))
	pb := routeTo(t, px, keyB, []string{"blog.test"}, heldBackend(t, "b1", never))
	heldA, heldB := hold(t, srv, "shop.test"), hold(t, srv, "blog.test")
	testutil.Eventually(t, 5*time.Second, "both held", func() bool { return pa.InFlight() == 1 && pb.InFlight() == 1 })

	switchTo := func(key RouteKey, host string, timeout time.Duration) *Drain {
		t.Helper()
		p := newPool(t, key, "r2", fastHealth(), newBackend(t, key.App+"2", nil))
		dr, err := px.Switch(context.Background(), SwitchRequest{Key: key, Hosts: []string{host}, Pool: p, Healthy: 1, DrainTimeout: timeout})
		if err != nil || dr == nil {
			t.Fatalf("switch %s: %v, %v", key, dr, err)
		}
		return dr
	}
	long := switchTo(keyB, "blog.test", 2*time.Second)
	short := switchTo(keyA, "shop.test", 200*time.Millisecond)
	if n := len(px.Draining()); n != 2 {
		t.Fatalf("%d draining, want 2", n)
	}

	<-short.Done()
	if res := short.Result(); res.Cut != 1 || res.Waited < 200*time.Millisecond {
		t.Fatalf("short drain %+v", res)
	}
	if r := <-heldA; r.err == nil && r.body == "done" {
		t.Fatalf("request held on a1 was not cut: %+v", r)
	}
	select {
	case <-long.Done():
		t.Fatal("the long drain ended with the short one")
	default:
	}
	if ds := px.Draining(); len(ds) != 1 || ds[0].Key != keyB {
		t.Fatalf("draining %+v, want only %s", ds, keyB)
	}
	<-long.Done()
	if res := long.Result(); res.Cut != 1 || res.Waited < 2*time.Second {
		t.Fatalf("long drain %+v", res)
	}
	<-heldB
}

func TestProxy_SwitchRemovesARoute(t *testing.T) {
	t.Parallel()
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "v1", nil))
	dr, err := px.Switch(context.Background(), SwitchRequest{Key: keyA})
	if err != nil || dr == nil || dr.Release != "r1" {
		t.Fatalf("remove: %+v, %v", dr, err)
	}
	if cur, _ := px.Route(keyA); cur != nil {
		t.Fatal("route still there")
	}
	if code, _ := get(t, srv.Client(), srv.URL, "shop.test"); code != http.StatusNotFound {
		t.Fatalf("removed host answered %d", code)
	}
	if res := dr.Result(); res.Cut != 0 {
		t.Fatalf("drain %+v", res)
	}
	// Nothing left to remove: no drain.
	if dr, err := px.Switch(context.Background(), SwitchRequest{Key: keyA}); dr != nil || err != nil {
		t.Fatalf("second remove: %+v, %v", dr, err)
	}
}

func TestProxy_SwitchCanarySlot(t *testing.T) {
	t.Parallel()
	px, _ := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "v1", nil))
	c1 := newPool(t, keyA, "c1", fastHealth(), newBackend(t, "c1", nil))
	if dr, err := px.Switch(context.Background(), SwitchRequest{Key: keyA, Slot: SlotCanary, Pool: c1, Weight: 10, Healthy: 1}); dr != nil || err != nil {
		t.Fatalf("first canary: %+v, %v", dr, err)
	}
	c2 := newPool(t, keyA, "c2", fastHealth(), newBackend(t, "c2", nil))
	dr, err := px.Switch(context.Background(), SwitchRequest{Key: keyA, Slot: SlotCanary, Pool: c2, Weight: 20})
	if err != nil || dr == nil || dr.Release != "c1" || !dr.Canary {
		t.Fatalf("replace canary: %+v, %v", dr, err)
	}
	if p, w := px.Canary(keyA); p != c2 || w != 20 {
		t.Fatalf("canary %v %d", p, w)
	}
	dr, err = px.Switch(context.Background(), SwitchRequest{Key: keyA, Slot: SlotCanary})
	if err != nil || dr == nil || dr.Release != "c2" {
		t.Fatalf("remove canary: %+v, %v", dr, err)
	}
	if p, _ := px.Canary(keyA); p != nil {
		t.Fatal("canary still set")
	}
	<-dr.Done()
}

func TestProxy_ShutdownDrainsCutsWhatIsLeft(t *testing.T) {
	t.Parallel()
	px, srv := newProxyServer(t)
	never := make(chan struct{})
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, heldBackend(t, "v1", never))
	held := hold(t, srv, "shop.test")
	testutil.Eventually(t, 5*time.Second, "the held request", func() bool { return p1.InFlight() == 1 })
	p2 := newPool(t, keyA, "r2", fastHealth(), newBackend(t, "v2", nil))
	dr, err := px.Switch(context.Background(), SwitchRequest{Key: keyA, Hosts: []string{"shop.test"}, Pool: p2, Healthy: 1, DrainTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	px.ShutdownDrains(ctx)
	select {
	case <-dr.Done():
	default:
		t.Fatal("ShutdownDrains returned before the drain ended")
	}
	if res := dr.Result(); res.Cut != 1 || !res.Stopped {
		t.Fatalf("drain %+v, want 1 cut, stopped", res)
	}
	<-held
	// A swap after shutdown drains at once.
	p3 := newPool(t, keyA, "r3", fastHealth(), newBackend(t, "v3", nil))
	dr, err = px.Switch(context.Background(), SwitchRequest{Key: keyA, Hosts: []string{"shop.test"}, Pool: p3, Healthy: 1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-dr.Done():
	default:
		t.Fatal("a drain after shutdown did not end at once")
	}
}

// Removing a route that has a canary drains both pools; the handle is
// done when both are.
func TestProxy_SwitchRemovesARouteWithItsCanary(t *testing.T) {
	t.Parallel()
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "v1", nil))
	release := make(chan struct{})
	c1 := newPool(t, keyA, "c1", fastHealth(), heldBackend(t, "c1", release))
	if _, err := px.Switch(context.Background(), SwitchRequest{Key: keyA, Slot: SlotCanary, Pool: c1, Weight: 100, Healthy: 1}); err != nil {
		t.Fatal(err)
	}
	held := hold(t, srv, "shop.test") // weight 100: the canary takes it
	testutil.Eventually(t, 5*time.Second, "the held request on the canary", func() bool { return c1.InFlight() == 1 })

	dr, err := px.Switch(context.Background(), SwitchRequest{Key: keyA, DrainTimeout: time.Minute})
	if err != nil || dr == nil {
		t.Fatalf("remove: %+v, %v", dr, err)
	}
	ds := px.Draining() // the idle live pool may be done already
	canaries := 0
	for _, d := range ds {
		if d.Canary {
			canaries++
		}
	}
	if canaries != 1 || len(ds) > 2 {
		t.Fatalf("draining %+v, want the canary (and maybe the live pool)", ds)
	}
	select {
	case <-dr.Done():
		t.Fatal("the handle is done while the canary still drains")
	default:
	}
	close(release)
	if r := <-held; r.err != nil || r.body != "done" {
		t.Fatalf("held request on the canary: %+v", r)
	}
	if res := dr.Result(); res.Cut != 0 {
		t.Fatalf("drain %+v", res)
	}
}
