package deploy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// workerApp is an app of one worker running image.
func workerApp(image string) *spec.App {
	return &spec.App{Name: "shop", Services: []spec.Service{{Name: "worker", Image: image, Replicas: 1,
		Command: []string{"/app", "worker"}, StopGracePeriod: spec.Duration(time.Second), DrainTimeout: spec.Duration(time.Minute),
		Healthcheck: spec.Healthcheck{Path: "/", Interval: spec.Duration(time.Second), Timeout: spec.Duration(time.Second),
			HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Minute)}}}}
}

// heldDrain returns the drain of a real proxy pool that serves one
// request held until release is called: a long-lived request on an old
// release.
func heldDrain(t *testing.T, px *proxy.Proxy) (dr *proxy.Drain, release func()) {
	t.Helper()
	hold := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(app.Close)
	front := httptest.NewServer(px)
	t.Cleanup(front.Close)
	key := proxy.RouteKey{App: "shop", Env: "production", Service: "web"}
	hc := proxy.HealthConfig{Path: "/up", Interval: 20 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 2}
	newPool := func(rel string) *proxy.Pool {
		return proxy.NewPool(key, rel, []proxy.Target{{ID: rel, Name: rel, Addr: app.Listener.Addr().String()}}, hc, nil)
	}
	ctx := context.Background()
	p1 := newPool("r1")
	if _, err := px.Switch(ctx, proxy.SwitchRequest{Key: key, Hosts: []string{"held.test"}, Pool: p1, Healthy: 1}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("GET", front.URL+"/hold", nil)
		req.Host = "held.test"
		if resp, err := front.Client().Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	testutil.Eventually(t, 5*time.Second, "the held request", func() bool { return p1.InFlight() == 1 })
	dr, err := px.Switch(ctx, proxy.SwitchRequest{Key: key, Hosts: []string{"held.test"}, Pool: newPool("r2"), Healthy: 1, DrainTimeout: time.Minute})
	if err != nil || dr == nil {
		t.Fatalf("switch: %v %v", dr, err)
	}
	var once bool
	release = func() {
		if !once {
			once = true
			close(hold)
			<-done
		}
	}
	t.Cleanup(release)
	return dr, release
}

func running(t *testing.T, f *enginetest.Fake, id string) bool {
	t.Helper()
	c, err := f.InspectContainer(context.Background(), id)
	return err == nil && c.Running()
}

// Release 1 still drains (a long-lived request held on its pool) when
// release 2 is deployed, converge runs and release 1 is rolled back to:
// all are accepted, none stops release 1's draining container; its
// retirement does, once the drain ended, and records it as an event.
func TestDeployer_ADrainingReleaseKeepsItsContainersUntilItsDrainEnds(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	f.AddImage("shop:2", "sha256:2222")
	d := fakeDeployer(t, f)
	ctx := context.Background()
	if _, err := d.Deploy(ctx, workerApp("shop:1"), "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"})
	if len(cs) != 1 {
		t.Fatalf("release 1 runs %d containers", len(cs))
	}
	old := cs[0]

	// Release 1's container is its retirement's, with a drain held open.
	dr, release := heldDrain(t, d.proxy)
	var said []string
	x := &execution{app: workerApp("shop:1"), env: "production", t: newTracker(d.now, func(p Progress) { said = append(said, p.Message) })}
	d.retireLater(x, map[string][]engine.Container{"worker": {old}}, map[string]*proxy.Drain{"worker": dr}, nil)
	if got := strings.Join(said, "\n"); !strings.Contains(got, "draining worker release r1 in the background until") ||
		!strings.Contains(got, "1 old container(s) stop once their service has drained") {
		t.Errorf("progress:\n%s", got)
	}

	st, err := d.Status(ctx, "shop", "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Draining) != 1 || st.Draining[0].Service != "web" || st.Draining[0].Release != "r1" || st.Draining[0].InFlight != 1 {
		t.Errorf("status draining %+v", st.Draining)
	}

	if _, err := d.Deploy(ctx, workerApp("shop:2"), "production", DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy of release 2 while release 1 drains: %v", err)
	}
	if !running(t, f, old.ID) {
		t.Fatal("the deploy of release 2 stopped a container its drain still owns")
	}
	if err := d.Converge(ctx, "shop", "production"); err != nil {
		t.Fatal(err)
	}
	if !running(t, f, old.ID) {
		t.Fatal("converge stopped a container its drain still owns")
	}
	if _, err := d.Rollback(ctx, "shop", "production", 1, DeployOptions{}, nil); err != nil {
		t.Fatalf("rollback to the draining release: %v", err)
	}
	rel1, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"})
	if len(rel1) != 2 || !running(t, f, old.ID) {
		t.Fatalf("after the rollback release 1 has %d containers (want the draining one and a fresh one); the draining one runs: %v", len(rel1), running(t, f, old.ID))
	}
	// Release 2's worker had no drain: its retirement stops it at once.
	testutil.Eventually(t, 10*time.Second, "release 2's container removed", func() bool {
		cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "2"})
		return len(cs) == 0
	})
	select {
	case <-dr.Done():
		t.Fatal("the drain ended while its request was held")
	default:
	}

	release()
	<-dr.Done()
	testutil.Eventually(t, 10*time.Second, "the drained container removed", func() bool {
		_, err := f.InspectContainer(ctx, old.ID)
		return err != nil
	})
	testutil.Eventually(t, 5*time.Second, "the drain's event", func() bool {
		evs, _ := d.Events("shop", "production", 10)
		for _, e := range evs {
			if e.Kind == "drained" && e.Service == "worker" && strings.HasPrefix(e.Message, "drained worker release r1 in ") &&
				strings.HasSuffix(e.Message, "; stopped 1 old container(s) of worker") {
				return true
			}
		}
		return false
	})
	if live, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"}); len(live) != 1 || !live[0].Running() {
		t.Fatalf("the rolled-back-to release runs %d containers", len(live))
	}
}

// berth stopping mid-drain leaves the old release's containers to
// converge at the next start, which removes them: they belong to a
// release that is not live.
func TestDeployer_ContainersLeftByAStopMidDrainGoAtTheNextStart(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	f.AddImage("shop:2", "sha256:2222")
	st := newTestStore(t)
	d := New(Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{})})
	ctx := context.Background()
	if _, err := d.Deploy(ctx, workerApp("shop:1"), "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"})
	old := cs[0]
	dr, _ := heldDrain(t, d.proxy)
	d.retireLater(&execution{app: workerApp("shop:1"), env: "production", t: newTracker(d.now, nil)},
		map[string][]engine.Container{"worker": {old}}, map[string]*proxy.Drain{"worker": dr}, nil)
	if _, err := d.Deploy(ctx, workerApp("shop:2"), "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	d.Close() // berth stops: the retirement ends without stopping anything
	if !running(t, f, old.ID) {
		t.Fatal("the retirement stopped its container as berth stopped")
	}

	next := New(Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{})})
	t.Cleanup(next.Close)
	if err := next.ConvergeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.InspectContainer(ctx, old.ID); err == nil {
		t.Fatal("converge at the next start left the old release's container")
	}
	if cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "2"}); len(cs) != 1 {
		t.Fatalf("the live release runs %d containers", len(cs))
	}
}

// A published port's old pool drains in the background: the handover
// returns with a TCP connection still open on it, the old container
// stops only once that connection ended, and the event says so.
func TestDeployer_PortDrainHoldsOnlyTheOldContainer(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	d := fakeDeployer(t, f)
	ctx := context.Background()
	if _, err := d.Deploy(ctx, workerApp("shop:1"), "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"})
	old := cs[0]

	echo, err := net.Listen("tcp", "127.0.0.1:0") // release 1's container port
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p := spec.Port{Target: 7000, HostIP: "127.0.0.1", Protocol: "tcp"}
	l := listenT(t, p, 0)
	l.Swap(l4.NewPool("1", []l4.Target{{ID: old.ID, Name: old.Name, Addr: echo.Addr().String()}}))
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	oldPool := l.Swap(l4.NewPool("2", nil))
	x := &execution{app: workerApp("shop:1"), env: "production", t: newTracker(d.now, nil)}
	pds := d.drainPortsLater(x.app, []switchedPort{{service: "worker", label: p.PublishedLabel(), old: oldPool}})
	d.retireLater(x, map[string][]engine.Container{"worker": {old}}, nil, pds)
	if len(pds) != 1 || pds[0].open != 1 {
		t.Fatalf("port drains %+v", pds)
	}
	select {
	case <-pds[0].done:
		t.Fatal("the port drain ended with a connection open")
	default:
	}
	if !running(t, f, old.ID) {
		t.Fatal("the old container stopped while its port drains")
	}
	client.Close()
	testutil.Eventually(t, 10*time.Second, "the old container removed", func() bool {
		_, err := f.InspectContainer(ctx, old.ID)
		return err != nil
	})
	testutil.Eventually(t, 5*time.Second, "the drain's event", func() bool {
		evs, _ := d.Events("shop", "production", 10)
		for _, e := range evs {
			if e.Kind == "drained" && strings.HasPrefix(e.Message, "drained worker 127.0.0.1:") && strings.Contains(e.Message, "stopped 1 old container(s) of worker") {
				return true
			}
		}
		return false
	})
}

// After a rollback to the release that still drained, berth stopping
// leaves that release's draining container beside the fresh one, with
// the same labels: converge at the next start keeps the newest replicas
// and removes the older one.
func TestDeployer_RestartAfterARollbackToTheDrainingReleaseKeepsTheFreshOnes(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	f.AddImage("shop:2", "sha256:2222")
	st := newTestStore(t)
	d := New(Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{})})
	ctx := context.Background()
	if _, err := d.Deploy(ctx, workerApp("shop:1"), "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cs, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"})
	old := cs[0]
	dr, _ := heldDrain(t, d.proxy)
	d.retireLater(&execution{app: workerApp("shop:1"), env: "production", t: newTracker(d.now, nil)},
		map[string][]engine.Container{"worker": {old}}, map[string]*proxy.Drain{"worker": dr}, nil)
	if _, err := d.Deploy(ctx, workerApp("shop:2"), "production", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Rollback(ctx, "shop", "production", 1, DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	var fresh string
	rel1, _ := f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"})
	for _, c := range rel1 {
		if c.ID != old.ID {
			fresh = c.ID
		}
	}
	if len(rel1) != 2 || fresh == "" {
		t.Fatalf("release 1 runs %d containers, want the draining one and a fresh one", len(rel1))
	}
	d.Close()

	next := New(Options{Engine: f, Store: st, Proxy: proxy.New(proxy.Options{})})
	t.Cleanup(next.Close)
	if err := next.ConvergeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.InspectContainer(ctx, old.ID); err == nil {
		t.Error("converge kept the old draining container beside the fresh one")
	}
	if !running(t, f, fresh) {
		t.Error("converge removed the fresh container of the live release")
	}
}
