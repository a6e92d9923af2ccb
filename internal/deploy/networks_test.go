package deploy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

func networksApp() *spec.App {
	a := &spec.App{Name: "shop",
		Networks: []spec.Network{
			{Key: "back", Internal: true, IPAM: &spec.IPAM{Config: []spec.IPAMPool{{Subnet: "172.28.0.0/24"}}}, Labels: map[string]string{"team": "shop"}},
			{Key: "corp", Name: "corp-net", External: true},
			{Key: "front"},
		},
		Services: []spec.Service{
			{Name: "api", Image: "shop:1", Replicas: 2, Port: 8080, Hosts: []string{"shop.test"},
				Networks: []spec.ServiceNetwork{{Key: "front", Aliases: []string{"www"}}, {Key: "back"}}},
			{Name: "db", Image: "db:1", Replicas: 1, Stateful: true, ContainerName: "postgres",
				Networks: []spec.ServiceNetwork{{Key: "back", IPv4Address: "172.28.0.10"}}},
			{Name: "plain", Image: "shop:1", Replicas: 1, ContainerName: "plain-box"},
			{Name: "side", Image: "shop:1", Replicas: 2, NetworkMode: "service:api"},
			{Name: "tool", Image: "shop:1", Replicas: 1, Networks: []spec.ServiceNetwork{{Key: "corp", NoServiceAlias: true}}},
		}}
	for i := range a.Services {
		a.Services[i].Healthcheck = spec.Healthcheck{Path: "/", Interval: spec.Duration(time.Second), Timeout: spec.Duration(time.Second), HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Minute)}
	}
	return a
}

func placement(t *testing.T, p Plan, service string, index int) engine.ContainerSpec {
	t.Helper()
	for _, pl := range p.Start {
		if pl.Service == service && pl.Index == index {
			return pl.Spec
		}
	}
	t.Fatalf("no placement %s %d", service, index)
	return engine.ContainerSpec{}
}

// Each container joins its networks, the first at creation, with the
// service's name and its aliases on each; network_mode service: points
// at the same replica of that service; a routed container off the
// default network says where the proxy reaches it.
func TestMakePlan_Networks(t *testing.T) {
	p := MakePlan(Desired{App: networksApp(), Env: "production", Release: 4, Suffix: "x"}, nil)

	api := placement(t, p, "api", 1)
	if api.Network != "berth-shop-production-front" || !reflect.DeepEqual(api.Aliases, []string{"api", "www"}) {
		t.Errorf("api first network %q aliases %v", api.Network, api.Aliases)
	}
	if want := []engine.NetworkAttachment{{Name: "berth-shop-production-back", Aliases: []string{"api"}}}; !reflect.DeepEqual(api.Networks, want) {
		t.Errorf("api further networks %+v", api.Networks)
	}
	if api.Labels[LabelProxyNetwork] != "berth-shop-production-front" {
		t.Errorf("proxy network label %q", api.Labels[LabelProxyNetwork])
	}
	c := engine.Container{Labels: api.Labels, Addresses: map[string]string{"berth-shop-production-front": "10.1.0.2", "berth-shop-production-back": "172.28.0.3"}}
	if got := ContainerAddress(c, "shop", "production"); got != "10.1.0.2" {
		t.Errorf("proxy address %q", got)
	}

	worker := engine.Container{Labels: map[string]string{}, Addresses: map[string]string{"b-net": "10.2.0.2", "a-net": "10.1.0.2"}}
	if got := ContainerAddress(worker, "shop", "production"); got != "10.1.0.2" {
		t.Errorf("a worker off the default network: address %q", got)
	}

	db := placement(t, p, "db", 1)
	// container_name is an alias on every network, as Docker's DNS
	// answers a container's name.
	if !reflect.DeepEqual(db.Aliases, []string{"db", "postgres"}) {
		t.Errorf("db aliases %v, want db and its container_name", db.Aliases)
	}
	if db.Network != "berth-shop-production-back" || db.Endpoint.IPv4Address != "172.28.0.10" || len(db.Networks) != 0 {
		t.Errorf("db: %q %+v %+v", db.Network, db.Endpoint, db.Networks)
	}

	plain := placement(t, p, "plain", 1)
	if plain.Network != "berth-shop-production" || !reflect.DeepEqual(plain.Aliases, []string{"plain", "plain-box"}) || plain.Networks != nil || plain.Labels[LabelProxyNetwork] != "" {
		t.Errorf("plain: %q %v %+v", plain.Network, plain.Aliases, plain.Networks)
	}

	for i := 1; i <= 2; i++ {
		side := placement(t, p, "side", i)
		if want := "container:" + placement(t, p, "api", i).Name; side.NetworkMode != want || side.Network != "" {
			t.Errorf("side %d: mode %q network %q, want %s", i, side.NetworkMode, side.Network, want)
		}
	}

	tool := placement(t, p, "tool", 1)
	if tool.Network != "corp-net" || len(tool.Aliases) != 0 {
		t.Errorf("tool on the external network: %q %v", tool.Network, tool.Aliases)
	}
	if got := usedNetworks(networksApp()); !reflect.DeepEqual(got, []string{"back", "corp", "default", "front"}) {
		t.Errorf("used networks %v", got)
	}

	// A one-off container of db takes neither its address nor aliases.
	one, _ := placementSpec(p, "db")
	if one.Endpoint.IPv4Address != "" || one.Aliases != nil || one.Network != "berth-shop-production-back" {
		t.Errorf("one-off: %q %+v %v", one.Network, one.Endpoint, one.Aliases)
	}
	if db.Endpoint.IPv4Address == "" {
		t.Error("the one-off changed the placement")
	}
}

// A kept stateful service's container is the one a service: sharer joins.
func TestMakePlan_ServiceModeJoinsKeptContainer(t *testing.T) {
	app := &spec.App{Name: "shop", Services: []spec.Service{
		{Name: "vpn", Image: "vpn:1", Replicas: 1, Stateful: true},
		{Name: "app", Image: "shop:1", Replicas: 1, NetworkMode: "service:vpn"},
	}}
	d := Desired{App: app, Env: "production", Release: 2, Images: map[string]string{"vpn": "sha256:v"}}
	kept := container("shop-production-vpn-r1-1", "shop", "production", "vpn", "1")
	kept.State = engine.StateRunning
	kept.Labels[LabelStateful] = "true"
	kept.Labels[LabelSpec] = statefulHash(app, app.Services[0], "sha256:v")
	p := MakePlan(d, []engine.Container{kept})
	if len(p.Keep["vpn"]) != 1 {
		t.Fatalf("vpn not kept: %+v", p)
	}
	if got := placement(t, p, "app", 1).NetworkMode; got != "container:shop-production-vpn-r1-1" {
		t.Errorf("mode %q", got)
	}
}

// A missing external network is refused before anything changes, named;
// the others are created with the file's settings and berth's labels.
func TestDeployer_Networks(t *testing.T) {
	f := enginetest.NewFake()
	d := fakeDeployer(t, f)
	ctx := context.Background()
	app := networksApp()
	_, err := d.Deploy(ctx, app, "production", DeployOptions{}, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "network corp-net (networks.corp, external: true) does not exist: create it first (docker network create corp-net)") {
		t.Fatalf("deploy: %v", err)
	}
	if _, err := d.store.GetApp("shop"); err == nil {
		t.Error("the refused deploy recorded the app")
	}
	if _, err := f.InspectNetwork(ctx, "berth-shop-production-back"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("a network was created before the refusal: %v", err)
	}
	f.AddNetwork("corp-net")
	if err := d.ensureNetworks(ctx, app, "production", func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	back, ok := f.NetworkSpecOf("berth-shop-production-back")
	if !ok || !back.Internal || back.IPAM == nil || back.IPAM.Config[0].Subnet != "172.28.0.0/24" ||
		back.Labels["team"] != "shop" || back.Labels[engine.LabelApp] != "shop" || back.Labels[engine.LabelEnv] != "production" || back.Labels[LabelNetwork] != "back" {
		t.Errorf("back: %+v", back)
	}
	if _, ok := f.NetworkSpecOf("corp-net"); ok {
		t.Error("berth created the external network")
	}
	for _, n := range []string{"berth-shop-production", "berth-shop-production-front"} {
		if _, err := f.InspectNetwork(ctx, n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// On one host the proxy dials a routed container on its first network:
// one of a driver that does not route to the host is refused.
func TestDeployer_RoutedNeedsABridgeFirst(t *testing.T) {
	f := enginetest.NewFake()
	d := fakeDeployer(t, f)
	app := networksApp()
	app.Networks[2].Driver = "macvlan" // front, api's first network
	f.AddNetwork("corp-net")
	err := d.checkNetworks(context.Background(), app, "production")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `service "api": networks.front: the proxy reaches a routed service from this host`) {
		t.Fatalf("check: %v", err)
	}
}

// A per-network MAC address is refused on an engine before API 1.44.
func TestApiBefore(t *testing.T) {
	for v, want := range map[string]bool{"1.41": true, "1.43": true, "1.44": false, "1.47": false, "2.0": false, "": true} {
		if got := apiBefore(v, 1, 44); got != want {
			t.Errorf("apiBefore(%q) = %v", v, got)
		}
	}
}

// On a cluster, what Swarm cannot do is refused with key, service and
// why; the rest maps onto the workload's networks.
func TestClusterNetworks(t *testing.T) {
	app := networksApp()
	app.Networks = append(app.Networks, spec.Network{Key: "lan", Driver: "bridge"})
	got := strings.Join(clusterNetworkRefusals(app), "\n")
	for _, want := range []string{
		`service "db": networks.back.ipv4_address: Swarm assigns each task its address`,
		`service "side": network_mode service:api: a Swarm service's tasks join overlay networks`,
		`networks.lan: driver bridge is node-local`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("refusals lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"api"`) {
		t.Errorf("api refused: %s", got)
	}
	svc, _ := app.Service("api")
	w := workloadSpec(app, "production", *svc, store.Release{ID: 3}, nil, nil, nil)
	if w.Template.Network != "berth-shop-production-front" || len(w.Template.Networks) != 0 ||
		!reflect.DeepEqual(w.Networks, []engine.NetworkAttachment{{Name: "berth-shop-production-back", Aliases: []string{"api"}}}) {
		t.Errorf("workload networks: %q %+v %+v", w.Template.Network, w.Template.Networks, w.Networks)
	}
}
