package deploy

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// freeLoopbackPort is a loopback TCP port that is free now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func listenT(t *testing.T, p spec.Port, picked int) *l4.Listener {
	t.Helper()
	l, err := listenPicked(p, picked)
	if err != nil {
		t.Fatalf("listen %s (picked %d): %v", p.PublishedLabel(), picked, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A port berth picks is picked again when it is still free; when it is
// taken, or outside the range the file names, berth picks as before.
func TestListenPicked_ThePortPickedBeforeIfFree(t *testing.T) {
	t.Parallel()
	anyPort := spec.Port{Target: 7000, HostIP: "127.0.0.1", Protocol: "tcp"}
	want := freeLoopbackPort(t)
	if l := listenT(t, anyPort, want); l.Port() != want {
		t.Errorf("port %d; want %d, the one picked before", l.Port(), want)
	}

	held := listenT(t, anyPort, 0)
	if l := listenT(t, anyPort, held.Port()); l.Port() == held.Port() || l.Port() == 0 {
		t.Errorf("port %d while %d is held; want another one", l.Port(), held.Port())
	}

	first := freeLoopbackPort(t)
	if first > 65000 {
		first = 65000
	}
	rng := spec.Port{Target: 7000, HostIP: "127.0.0.1", Protocol: "tcp", Published: first, PublishedEnd: first + 2}
	if l := listenT(t, rng, want); l.Port() < first || l.Port() > first+2 {
		t.Errorf("port %d; want one of the range %d-%d (the picked %d is outside it)", l.Port(), first, first+2, want)
	}
}

// The containers a deploy starts carry the host ports berth picked for
// their service, and only those (a fixed published port needs none).
func TestAnnotatePorts_LabelsThePickedPorts(t *testing.T) {
	t.Parallel()
	d := fakeDeployer(t, enginetest.NewFake())
	picked := spec.Port{Target: 7000, HostIP: "127.0.0.1", Protocol: "tcp"}
	fixed := spec.Port{Target: 7001, HostIP: "127.0.0.1", Published: freeLoopbackPort(t), Protocol: "tcp"}
	app := &spec.App{Name: "shop", Services: []spec.Service{
		{Name: "echo", Ports: []spec.Port{picked, fixed}},
		{Name: "direct", Ports: []spec.Port{{Target: 7002, Protocol: "tcp"}}, Publish: spec.PublishDirect},
	}}
	x := &execution{app: app, env: "production"}
	l := listenT(t, picked, 0)
	x.ports.fresh = map[string]*l4.Listener{portKey("shop", "production", "echo", picked): l}
	plan := &Plan{Start: []Placement{
		{Service: "echo", Index: 1, Spec: engine.ContainerSpec{Labels: map[string]string{}}},
		{Service: "direct", Index: 1, Spec: engine.ContainerSpec{Labels: map[string]string{}}},
	}}
	d.annotatePorts(x, plan)
	got := plan.Start[0].Spec.Labels
	if got[labelPicked+picked.PublishedLabel()] != strconv.Itoa(l.Port()) || len(got) != 1 {
		t.Errorf("echo's labels %v; want only %s=%d", got, labelPicked+picked.PublishedLabel(), l.Port())
	}
	if got := plan.Start[1].Spec.Labels; len(got) != 0 {
		t.Errorf("direct's labels %v; want none (the engine picks its port)", got)
	}
}

// After a restart of berth, converge binds a picked port on the host
// port its live containers recorded.
func TestConvergePorts_BindsThePickedPortAgain(t *testing.T) {
	t.Parallel()
	d := fakeDeployer(t, enginetest.NewFake())
	p := spec.Port{Target: 7000, HostIP: "127.0.0.1", Protocol: "tcp"}
	live := &store.Release{ID: 4, Spec: spec.App{Name: "shop", Services: []spec.Service{{Name: "echo", Ports: []spec.Port{p}}}}}
	want := freeLoopbackPort(t)
	c := engine.Container{ID: "c1", Name: "shop-production-echo-r4-1", State: engine.StateRunning,
		Labels:    map[string]string{engine.LabelService: "echo", engine.LabelRelease: releaseLabel(4), labelPicked + p.PublishedLabel(): strconv.Itoa(want)},
		Addresses: map[string]string{NetworkName("shop", "production"): "127.88.0.2"}}
	d.convergePorts("shop", "production", live, []engine.Container{c})
	l := d.ports.Get(portKey("shop", "production", "echo", p))
	if l == nil {
		t.Fatal("no listener after converge")
	}
	t.Cleanup(func() { l.Close() })
	if l.Port() != want {
		t.Errorf("listener on %d; want %d, the port the containers recorded", l.Port(), want)
	}
	if cur := l.Current(); cur == nil || len(cur.Targets()) != 1 || cur.Targets()[0].Addr != "127.88.0.2:7000" {
		t.Errorf("pool %+v; want the live container", cur)
	}
}

// A service that publishes the host port berth's own HTTP proxy listens
// on is refused with what the port is and what to write instead, not
// with "another program holds the port".
func TestReservePorts_BerthsOwnProxyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the proxy's listener
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	d := fakeDeployer(t, enginetest.NewFake())
	d.proxyAt = []string{ln.Addr().String()}
	app := &spec.App{Name: "shop", Services: []spec.Service{
		{Name: "web", Hosts: []string{"web.shop.localhost"}, Ports: []spec.Port{{Target: 80, Published: port, Protocol: "tcp"}}},
	}}
	x := &execution{app: app, env: "production"}
	err = d.reservePorts(x, &Plan{})
	want := "host port " + ln.Addr().String() + " is berth's own HTTP proxy (berth server --http-addr/--https-addr), which routes services by Host header (it routes this service at web.shop.localhost)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if d.proxyPort(spec.Port{Target: 80, Published: port + 1, Protocol: "tcp"}) != "" || d.proxyPort(spec.Port{Target: 80, Published: port, Protocol: "udp"}) != "" {
		t.Error("another port, or UDP, is not the proxy's")
	}
}
