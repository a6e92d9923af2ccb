package spec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadNetYAML(t *testing.T, yaml string) (*App, error) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(context.Background(), LoadOptions{Files: []string{file}})
}

// Both forms of a service's networks: are read; the top-level networks
// keep every key the file sets; a service that says nothing of networks
// keeps its stored form (no networks field).
func TestLoad_Networks(t *testing.T) {
	t.Parallel()
	app, err := loadNetYAML(t, `name: shop
services:
  web:
    image: shop:1
    networks: [front, back]
  api:
    image: shop:1
    networks:
      back:
        aliases: [api-internal]
        priority: 10
        link_local_ips: [169.254.8.8]
      front: {}
  db:
    image: db:1
    networks:
      back:
        ipv4_address: 172.28.0.10
    x-berth: { stateful: true }
  plain:
    image: shop:1
  host:
    image: shop:1
    network_mode: host
  side:
    image: shop:1
    network_mode: service:api
networks:
  front:
    driver: bridge
    driver_opts: { com.docker.network.bridge.enable_icc: "true" }
    labels: { team: shop }
    attachable: true
  back:
    internal: true
    ipam:
      driver: default
      config:
        - subnet: 172.28.0.0/24
          ip_range: 172.28.0.128/25
          gateway: 172.28.0.1
          aux_addresses: { router: 172.28.0.2 }
  ext:
    external: true
    name: corp-net
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range app.Warnings {
		if strings.Contains(w, "network") {
			t.Errorf("warned of an applied key: %s", w)
		}
	}
	want := []Network{
		{Key: "back", Internal: true, IPAM: &IPAM{Driver: "default", Config: []IPAMPool{{Subnet: "172.28.0.0/24", IPRange: "172.28.0.128/25", Gateway: "172.28.0.1", AuxAddresses: map[string]string{"router": "172.28.0.2"}}}}},
		{Key: "ext", Name: "corp-net", External: true},
		{Key: "front", Driver: "bridge", DriverOpts: map[string]string{"com.docker.network.bridge.enable_icc": "true"}, Labels: map[string]string{"team": "shop"}, Attachable: true},
	}
	if !reflect.DeepEqual(app.Networks, want) {
		t.Errorf("networks:\n%+v\nwant\n%+v", app.Networks, want)
	}
	svc := func(name string) Service {
		s, ok := app.Service(name)
		if !ok {
			t.Fatalf("no service %s", name)
		}
		return *s
	}
	if got := svc("web").Networks; !reflect.DeepEqual(got, []ServiceNetwork{{Key: "back"}, {Key: "front"}}) {
		t.Errorf("short form: %+v", got)
	}
	if got := svc("api").Networks; !reflect.DeepEqual(got, []ServiceNetwork{{Key: "back", Aliases: []string{"api-internal"}, Priority: 10, LinkLocalIPs: []string{"169.254.8.8"}}, {Key: "front"}}) {
		t.Errorf("long form (priority first): %+v", got)
	}
	if got := svc("db").Networks; !reflect.DeepEqual(got, []ServiceNetwork{{Key: "back", IPv4Address: "172.28.0.10"}}) {
		t.Errorf("fixed address: %+v", got)
	}
	plain := svc("plain")
	if plain.Networks != nil || plain.NetworkMode != "" {
		t.Errorf("plain service: %+v %q", plain.Networks, plain.NetworkMode)
	}
	if got := plain.ServiceNetworks(); !reflect.DeepEqual(got, []ServiceNetwork{{Key: DefaultNetwork}}) {
		t.Errorf("plain joins %+v, want the default network", got)
	}
	b, _ := json.Marshal(plain)
	if strings.Contains(string(b), "network") {
		t.Errorf("a service without networks changed its stored form: %s", b)
	}
	if h := svc("host"); h.NetworkMode != "host" || h.ServiceNetworks() != nil {
		t.Errorf("host: %q %+v", h.NetworkMode, h.ServiceNetworks())
	}
	if s := svc("side"); s.NetworkMode != "service:api" || s.DependsOn["api"] != "service_started" {
		t.Errorf("service: mode %q, depends_on %v", s.NetworkMode, s.DependsOn)
	}
}

// An app that declares no networks stores none (its releases keep their
// form); one that overrides default keeps it.
func TestLoad_DefaultNetworkOverride(t *testing.T) {
	t.Parallel()
	app, err := loadNetYAML(t, "name: shop\nservices:\n  web: { image: shop:1 }\n")
	if err != nil {
		t.Fatal(err)
	}
	if app.Networks != nil {
		t.Errorf("implicit default kept: %+v", app.Networks)
	}
	app, err = loadNetYAML(t, "name: shop\nservices:\n  web: { image: shop:1 }\nnetworks:\n  default: { name: shared-net, external: true }\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Network{{Key: "default", Name: "shared-net", External: true}}; !reflect.DeepEqual(app.Networks, want) {
		t.Errorf("default override: %+v", app.Networks)
	}
	if n, _ := app.Network(DefaultNetwork); n.Name != "shared-net" {
		t.Errorf("Network(default) = %+v", n)
	}
}

// Every misuse is refused with the key, the service and what to write.
func TestLoad_NetworkRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, field, service, msg string
	}{
		{"fixed address on a blue-green service", `
services:
  web: { image: a, networks: { back: { ipv4_address: 172.28.0.5 } }, x-berth: { port: 80, hosts: [a.localhost] } }
networks:
  back: { ipam: { config: [ { subnet: 172.28.0.0/24 } ] } }`, "networks.back.ipv4_address", "web", "x-berth.stateful: true"},
		{"fixed address without a user subnet", `
services:
  db: { image: a, networks: { back: { ipv4_address: 172.28.0.5 } }, x-berth: { stateful: true } }
networks:
  back: {}`, "networks.back.ipv4_address", "db", "user-configured subnet"},
		{"fixed address outside the subnet", `
services:
  db: { image: a, networks: { back: { ipv4_address: 10.9.0.5 } }, x-berth: { stateful: true } }
networks:
  back: { ipam: { config: [ { subnet: 172.28.0.0/24 } ] } }`, "networks.back.ipv4_address", "db", "not in a subnet"},
		{"an IPv6 address as ipv4_address", `
services:
  db: { image: a, networks: { back: { ipv4_address: "fd00::5" } }, x-berth: { stateful: true } }
networks:
  back: { ipam: { config: [ { subnet: 172.28.0.0/24 } ] } }`, "networks.back.ipv4_address", "db", "not an IPv4 address"},
		{"gateway outside the subnet", `
services:
  web: { image: a, networks: [back] }
networks:
  back: { ipam: { config: [ { subnet: 172.28.0.0/24, gateway: 172.29.0.1 } ] } }`, "networks.back.ipam.config[0].gateway", "", "inside the subnet 172.28.0.0/24"},
		{"subnet not masked", `
services:
  web: { image: a, networks: [back] }
networks:
  back: { ipam: { config: [ { subnet: 172.28.0.5/24 } ] } }`, "networks.back.ipam.config[0].subnet", "", "did you mean 172.28.0.0/24"},
		{"external network with a driver", `
services:
  web: { image: a, networks: [ext] }
networks:
  ext: { external: true, driver: bridge }`, "networks.ext.driver", "", "external network is used as it is"},
		{"host mode on a routed service", `
services:
  web: { image: a, network_mode: host, x-berth: { port: 80, hosts: [a.localhost] } }`, "network_mode", "web", "blue-green"},
		{"an unknown mode", `
services:
  web: { image: a, network_mode: "weird" }`, "network_mode", "web", "host, none, bridge, service:NAME or container:NAME"},
		{"stateful beside a worker's namespace", `
services:
  vpn: { image: a }
  db: { image: a, network_mode: "service:vpn", x-berth: { stateful: true } }`, "network_mode", "db", "make \"vpn\" stateful too"},
		{"release command in a shared namespace", `
services:
  vpn: { image: a }
  app: { image: a, network_mode: "service:vpn", x-berth: { release_command: [migrate] } }`, "network_mode", "app", "runs before any container of the release starts"},
		{"hostname in another service's namespace", `
services:
  vpn: { image: a }
  app: { image: a, network_mode: "service:vpn", hostname: app }`, "hostname", "app", "set it on service \"vpn\""},
		{"dns in another container's namespace", `
services:
  app: { image: a, network_mode: "container:vpn", dns: [1.1.1.1] }`, "dns", "app", "Docker refuses to set its dns there"},
		{"extra_hosts in another service's namespace", `
services:
  vpn: { image: a }
  app: { image: a, network_mode: "service:vpn", extra_hosts: ["db:10.0.0.2"] }`, "extra_hosts", "app", "shares another's network namespace"},
		{"a net sysctl on the host's network", `
services:
  app: { image: a, network_mode: host, sysctls: { net.core.somaxconn: 1024, kernel.msgmax: 65536 } }`, "sysctls.net.core.somaxconn", "app", "set it on the host"},
		{"gw_priority", `
services:
  web: { image: a, networks: { back: { gw_priority: 5 } } }
networks:
  back: {}`, "networks.back.gw_priority", "web", "API 1.48"},
		{"link-local that is not", `
services:
  web: { image: a, networks: { back: { link_local_ips: [10.0.0.1] } } }
networks:
  back: {}`, "networks.back.link_local_ips[0]", "web", "not a link-local address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadNetYAML(t, "name: shop"+tc.yaml+"\n")
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("not refused: %v", err)
			}
			for _, e := range es {
				if e.Field == tc.field && e.Service == tc.service && strings.Contains(e.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("no refusal of %s (service %q) saying %q in:\n%v", tc.field, tc.service, tc.msg, err)
		})
	}
}

// compose-go's own refusals reach the user: networks with network_mode,
// and a network no top-level key declares.
func TestLoad_NetworkComposeRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, msg string }{
		{"name: shop\nservices:\n  web: { image: a, network_mode: host, networks: [back] }\nnetworks:\n  back: {}\n", "network_mode"},
		{"name: shop\nservices:\n  web: { image: a, networks: [nope] }\n", "nope"},
	} {
		if _, err := loadNetYAML(t, tc.yaml); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: got %v, want a refusal naming %s", tc.yaml, err, tc.msg)
		}
	}
}

// What the engine allows in a shared namespace stays accepted: the
// host's network with a hostname, DNS and a non-net sysctl, and another
// service's with dns_search and domainname.
func TestLoad_SharedNamespaceKeepsWhatTheEngineAllows(t *testing.T) {
	t.Parallel()
	_, err := loadNetYAML(t, `name: shop
services:
  vpn: { image: a }
  host: { image: a, network_mode: host, hostname: h, dns: [1.1.1.1], extra_hosts: ["db:10.0.0.2"], sysctls: { kernel.msgmax: 65536 } }
  side: { image: a, network_mode: "service:vpn", dns_search: [example.org], domainname: example.org }
`)
	if err != nil {
		t.Fatal(err)
	}
}
