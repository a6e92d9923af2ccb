package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

// freeSubnet returns a /24 of 10.250.0.0/16 that no network of the
// engine overlaps.
func freeSubnet(t *testing.T, eng *docker.Backend) netip.Prefix {
	t.Helper()
	nets, err := eng.Client().NetworkList(context.Background(), network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	_, _ = rand.Read(b[:])
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 250, b[0] + byte(i), 0}), 24)
		free := true
		for _, n := range nets {
			for _, c := range n.IPAM.Config {
				if q, err := netip.ParsePrefix(c.Subnet); err == nil && q.Overlaps(p) {
					free = false
				}
			}
		}
		if free {
			return p
		}
	}
	t.Fatal("no free /24 in 10.250.0.0/16")
	return netip.Prefix{}
}

// removeAppNetworks removes every network labelled with the app when the
// test ends (after its containers: cleanups run last-in first-out).
func removeAppNetworks(t *testing.T, eng *docker.Backend, app string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: app})
		for _, c := range cs {
			_ = eng.RemoveContainer(ctx, c.ID)
		}
		nets, _ := eng.Client().NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", engine.LabelApp+"="+app))})
		for _, n := range nets {
			_ = eng.RemoveNetwork(ctx, n.ID)
		}
	})
}

// tenth is the subnet's address .10.
func tenth(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	a[3] = 10
	return netip.AddrFrom4(a)
}

func networksCompose(t *testing.T, name, host, ext string, subnet netip.Prefix) *spec.App {
	t.Helper()
	dbAddr := tenth(subnet)
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %[1]s
x-health: &health { path: /up, interval: 200ms, deadline: 20s }
services:
  web:
    image: %[2]s
    networks:
      frontend: { aliases: [www] }
      backend: { driver_opts: { com.example.berth-probe: "1" } }
    x-berth: { port: 8080, hosts: [%[3]s], healthcheck: *health }
  api:
    image: %[2]s
    networks: [backend]
    x-berth: { port: 8080, hosts: [api.%[3]s], healthcheck: *health }
  db:
    image: %[2]s
    networks:
      backend: { ipv4_address: %[5]s }
    x-berth: { stateful: true }
  edge:
    image: %[2]s
    networks: [frontend, corp]
networks:
  frontend: {}
  backend:
    internal: true
    labels: { tier: data }
    ipam:
      config: [ { subnet: %[6]s } ]
  corp:
    external: true
    name: %[4]s
`, name, image(t).Ref, host, ext, dbAddr, subnet))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// An app on a frontend and an internal backend network, an external
// network and a fixed address: each container is on exactly its networks
// with its aliases, address and endpoint driver options (inspect), the
// proxy reaches a routed service on the internal network, and a one-off
// container of a backend-only service (berth run) cannot reach a
// frontend-only one, while one of a frontend service can.
func TestNetworks_ComposeNetworks(t *testing.T) {
	eng := requireDocker(t)
	ctx := context.Background()
	var b [3]byte
	_, _ = rand.Read(b[:])
	ext := "e2e-corp-" + hex.EncodeToString(b[:])
	// Removed last, once the app's containers have left it.
	t.Cleanup(func() { _ = eng.RemoveNetwork(context.Background(), ext) })
	dir := t.TempDir()
	s := startServer(t, dir)
	name, host := newApp(t, eng)
	removeAppNetworks(t, eng, name)
	subnet := freeSubnet(t, eng)
	app := networksCompose(t, name, host, ext, subnet)

	// The external network does not exist yet: refused, naming it.
	_, err := s.deploy(t, app)
	if err == nil || !strings.Contains(err.Error(), "network "+ext+" (networks.corp, external: true) does not exist") {
		t.Fatalf("deploy without the external network: %v", err)
	}
	var apiErr *apiclient.APIError
	if errors.As(err, &apiErr) && apiErr.Status >= 500 {
		t.Errorf("a user's mistake answered %d", apiErr.Status)
	}
	if nets, _ := eng.Client().NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", engine.LabelApp+"="+name))}); len(nets) != 0 {
		t.Errorf("the refused deploy created networks: %d", len(nets))
	}

	// docker network create, as the user would.
	if _, err := eng.Client().NetworkCreate(ctx, ext, network.CreateOptions{Driver: "bridge"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.deploy(t, app); err != nil {
		t.Fatal(err)
	}

	front, back := "berth-"+name+"-production-frontend", "berth-"+name+"-production-backend"
	bn, err := eng.Client().NetworkInspect(ctx, back, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bn.Internal || len(bn.IPAM.Config) != 1 || bn.IPAM.Config[0].Subnet != subnet.String() || bn.Labels["tier"] != "data" ||
		bn.Labels[engine.LabelApp] != name || bn.Labels[engine.LabelEnv] != "production" {
		t.Errorf("backend network: internal %v ipam %+v labels %v", bn.Internal, bn.IPAM.Config, bn.Labels)
	}
	if en, err := eng.Client().NetworkInspect(ctx, ext, network.InspectOptions{}); err != nil || en.Labels[engine.LabelManaged] != "" {
		t.Errorf("the external network was changed: %+v %v", en.Labels, err)
	}

	want := map[string]map[string][]string{ // service → network → aliases
		"web":  {front: {"web", "www"}, back: {"web"}},
		"api":  {back: {"api"}},
		"db":   {back: {"db"}},
		"edge": {front: {"edge"}, ext: {"edge"}},
	}
	cs, err := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		svc := c.Labels[engine.LabelService]
		seen[svc] = true
		ci, err := eng.Client().ContainerInspect(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for n, ep := range ci.NetworkSettings.Networks {
			got = append(got, n)
			var aliases []string
			for _, a := range ep.Aliases {
				if !strings.HasPrefix(ci.ID, a) { // the engine adds the short ID
					aliases = append(aliases, a)
				}
			}
			sort.Strings(aliases)
			if w := want[svc][n]; !slices.Equal(aliases, w) {
				t.Errorf("%s on %s: aliases %v, want %v", c.Name, n, aliases, w)
			}
			if opt := ep.DriverOpts["com.example.berth-probe"]; (svc == "web" && n == back) != (opt == "1") {
				t.Errorf("%s on %s: endpoint driver options %v", c.Name, n, ep.DriverOpts)
			}
			if svc == "db" && ep.IPAddress != tenth(subnet).String() {
				t.Errorf("db's address %s, want %s", ep.IPAddress, tenth(subnet).String())
			}
		}
		if len(got) != len(want[svc]) {
			t.Errorf("%s is on networks %v, want exactly %v", c.Name, got, want[svc])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("services running: %v", seen)
	}

	// The proxy reaches web and api (api only on the internal network).
	if code, _ := get(t, s.addrs.HTTP, host, "/up"); code != 200 {
		t.Errorf("web through the proxy: %d", code)
	}
	if code, _ := get(t, s.addrs.HTTP, "api."+host, "/up"); code != 200 {
		t.Errorf("api (internal network only) through the proxy: %d", code)
	}

	// A restarted server routes them again, from each container's
	// address on the network the proxy reaches it on.
	s.stop()
	s = startServer(t, dir)
	for _, h := range []string{host, "api." + host} {
		if code, _ := get(t, s.addrs.HTTP, h, "/up"); code != 200 {
			t.Errorf("%s after a restart: %d", h, code)
		}
	}
	st, err := s.client.Status(ctx, name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range st.Services {
		for _, c := range svc.Containers {
			if (svc.Name == "web" || svc.Name == "api") && c.Health != "healthy" {
				t.Errorf("status after a restart: %s %s health %q address %q", svc.Name, c.Name, c.Health, c.Address)
			}
		}
	}

	run := func(svc, url string) int {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var out bytes.Buffer
		code, err := s.client.Run(rctx, name, "production", svc, []string{"get", url}, &out)
		if err != nil {
			t.Fatalf("berth run %s get %s: %v", svc, url, err)
		}
		t.Logf("berth run %s -- get %s: exit %d: %s", svc, url, code, strings.TrimSpace(out.String()))
		return code
	}
	if code := run("web", "http://edge:8080/up"); code != 0 {
		t.Errorf("web (frontend) cannot reach edge by name: exit %d", code)
	}
	if code := run("edge", "http://www:8080/up"); code != 0 {
		t.Errorf("edge (frontend) cannot reach web by its alias: exit %d", code)
	}
	if code := run("api", "http://db:8080/up"); code != 0 {
		t.Errorf("api (backend) cannot reach db: exit %d", code)
	}
	if code := run("api", "http://edge:8080/up"); code == 0 {
		t.Error("api (backend only) reached edge (frontend only) by name")
	}
	var edgeIP string
	for _, c := range cs {
		if c.Labels[engine.LabelService] == "edge" {
			edgeIP = c.Addresses[front]
		}
	}
	if code := run("api", "http://"+edgeIP+":8080/up"); code == 0 {
		t.Errorf("api (backend only) reached edge at its frontend address %s", edgeIP)
	}

	// berth env remove takes the networks berth created with it and
	// leaves the external one, which it only joined.
	if _, err := s.client.RemoveEnv(ctx, name, "production", dto.RemoveRequest{}, nil); err != nil {
		t.Fatalf("remove: %v", err)
	}
	for _, n := range []string{front, back} {
		if _, err := eng.Client().NetworkInspect(ctx, n, network.InspectOptions{}); err == nil {
			t.Errorf("network %s is still there after the removal", n)
		}
	}
	if _, err := eng.Client().NetworkInspect(ctx, ext, network.InspectOptions{}); err != nil {
		t.Errorf("the removal took the external network: %v", err)
	}
}

// network_mode: service:NAME shares the network namespace of NAME's
// container of the same release, across a blue-green deploy; none leaves
// the container without networks. A stateful service keeps its fixed
// address when it is replaced (stopped before its successor starts).
func TestNetworks_NetworkModeAndFixedAddress(t *testing.T) {
	eng := requireDocker(t)
	ctx := context.Background()
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	removeAppNetworks(t, eng, name)
	subnet := freeSubnet(t, eng)
	// A container outside berth that "joined" shares (network_mode
	// container:NAME), as a VPN sidecar started by hand would be.
	var rb [3]byte
	_, _ = rand.Read(rb[:])
	outside, err := eng.CreateContainer(ctx, engine.ContainerSpec{Name: "e2e-outside-" + hex.EncodeToString(rb[:]), Image: image(t).ID, Cmd: []string{"sleep", "3600"}, StopGrace: time.Second})
	if outside.ID != "" {
		t.Cleanup(func() { _ = eng.RemoveContainer(context.Background(), outside.ID) })
	}
	if err != nil {
		t.Fatal(err)
	}
	load := func(version string) *spec.App {
		p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %[1]s
services:
  web:
    image: %[2]s
    environment: { VERSION: %[3]s }
    x-berth: { port: 8080, hosts: [%[4]s], healthcheck: { path: /up, interval: 200ms } }
  side:
    image: %[2]s
    command: [sleep, "3600"]
    network_mode: service:web
  alone:
    image: %[2]s
    command: [sleep, "3600"]
    network_mode: none
  hostnet:
    image: %[2]s
    command: [sleep, "3600"]
    network_mode: host
  joined:
    image: %[2]s
    command: [sleep, "3600"]
    network_mode: container:%[7]s
  db:
    image: %[2]s
    environment: { VERSION: %[3]s }
    networks:
      default: {}
      data: { ipv4_address: %[5]s }
    x-berth: { stateful: true }
networks:
  data:
    ipam: { config: [ { subnet: %[6]s } ] }
`, name, image(t).Ref, version, host, tenth(subnet), subnet, outside.Name))
		app, err := spec.Load(ctx, spec.LoadOptions{Files: []string{p}})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	check := func(rel string) {
		t.Helper()
		cs, err := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name})
		if err != nil {
			t.Fatal(err)
		}
		byService := map[string]string{}
		for _, c := range cs {
			if c.Running() && (c.Labels[engine.LabelRelease] == rel || c.Labels[engine.LabelService] == "db") {
				byService[c.Labels[engine.LabelService]] = c.ID
			}
		}
		inspect := func(svc string) (mode string, nets map[string]string) {
			ci, err := eng.Client().ContainerInspect(ctx, byService[svc])
			if err != nil {
				t.Fatalf("%s of release %s: %v", svc, rel, err)
			}
			nets = map[string]string{}
			for n, ep := range ci.NetworkSettings.Networks {
				nets[n] = ep.IPAddress
			}
			return string(ci.HostConfig.NetworkMode), nets
		}
		if mode, _ := inspect("side"); mode != "container:"+byService["web"] {
			t.Errorf("release %s: side's network mode %q, want container:%s (web of the same release)", rel, mode, byService["web"])
		}
		if mode, nets := inspect("alone"); mode != "none" || len(nets) > 1 {
			t.Errorf("alone: mode %q networks %v", mode, nets)
		}
		if mode, _ := inspect("hostnet"); mode != "host" {
			t.Errorf("hostnet: mode %q", mode)
		}
		if mode, _ := inspect("joined"); mode != "container:"+outside.ID && mode != "container:"+outside.Name {
			t.Errorf("joined: mode %q, want container:%s", mode, outside.Name)
		}
		if _, nets := inspect("db"); nets["berth-"+name+"-production-data"] != tenth(subnet).String() || nets["berth-"+name+"-production"] == "" || len(nets) != 2 {
			t.Errorf("db's networks %v, want %s on data and the default network", nets, tenth(subnet))
		}
	}
	if _, err := s.deploy(t, load("v1")); err != nil {
		t.Fatal(err)
	}
	check("1")
	// side reaches web at 127.0.0.1: they share one network namespace.
	var out bytes.Buffer
	if code, err := s.client.Run(ctx, name, "production", "side", []string{"get", "http://127.0.0.1:8080/up"}, &out); err != nil || code != 0 {
		t.Errorf("side cannot reach web on its loopback: %d %v %s", code, err, out.String())
	}

	// Release 2 replaces db (its definition changed) at the same address.
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := s.client.Deploy(dctx, load("v2"), spec.DefaultEnv, dto.DeployOptions{ReplaceStateful: true}, func(p dto.Progress) {
		t.Logf("deploy %s: %s", name, p.Message)
	}); err != nil {
		t.Fatal(err)
	}
	check("2")
	if code, body := get(t, s.addrs.HTTP, host, "/"); code != 200 || body != "v2" {
		t.Errorf("after release 2: %d %q", code, body)
	}
}
