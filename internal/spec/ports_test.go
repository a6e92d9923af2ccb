package spec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadPortsYAML(t *testing.T, yaml string) (*App, error) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(context.Background(), LoadOptions{Files: []string{file}})
}

func TestLoad_PortsShortAndLongForm(t *testing.T) {
	t.Parallel()
	app, err := loadPortsYAML(t, `name: shop
services:
  echo:
    image: echo:1
    ports:
      - "127.0.0.1:17000:7000"
      - "18000-18001:8000-8001"
      - "19000-19010:9000"
      - "5353:53/udp"
      - "7100"
      - "[::1]:17200:7200"
      - target: 7300
        published: "17300"
        host_ip: 127.0.0.1
        protocol: udp
        mode: host
        app_protocol: dns
        name: dns
  direct:
    image: echo:1
    ports: ["127.0.0.1:17400:7000"]
    x-berth: { publish: direct }
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Warnings) != 0 {
		t.Errorf("warnings: %q", app.Warnings)
	}
	svc, _ := app.Service("echo")
	want := []Port{
		{Target: 7000, Published: 17000, HostIP: "127.0.0.1", Protocol: "tcp"},
		{Target: 8000, Published: 18000, Protocol: "tcp"},
		{Target: 8001, Published: 18001, Protocol: "tcp"},
		{Target: 9000, Published: 19000, PublishedEnd: 19010, Protocol: "tcp"},
		{Target: 53, Published: 5353, Protocol: "udp"},
		{Target: 7100, Protocol: "tcp"},
		{Target: 7200, Published: 17200, HostIP: "::1", Protocol: "tcp"},
		{Target: 7300, Published: 17300, HostIP: "127.0.0.1", Protocol: "udp", Mode: "host", AppProtocol: "dns", Name: "dns"},
	}
	if !reflect.DeepEqual(svc.Ports, want) {
		t.Errorf("ports:\n%+v\nwant:\n%+v", svc.Ports, want)
	}
	if !svc.Proxied() || svc.Publish != "" {
		t.Errorf("echo: proxied %t, publish %q; want berth's listener", svc.Proxied(), svc.Publish)
	}
	d, _ := app.Service("direct")
	if d.Proxied() || d.Publish != PublishDirect {
		t.Errorf("direct: proxied %t, publish %q", d.Proxied(), d.Publish)
	}
	if got := want[3].PublishedLabel(); got != "19000-19010:9000/tcp" {
		t.Errorf("label %q", got)
	}
	if got := want[6].PublishedLabel(); got != "[::1]:17200:7200/tcp" {
		t.Errorf("label %q", got)
	}
}

func TestLoad_PortsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, services, want string }{
		{"two services on one port", `
  a: { image: x, ports: ["8080:80"] }
  b: { image: x, ports: ["127.0.0.1:8080:81"] }`, `service "b": ports[0]: host port 127.0.0.1:8080:81/tcp is also published by service "a" (8080:80/tcp)`},
		{"range overlaps", `
  a: { image: x, ports: ["8000-8010:80"] }
  b: { image: x, ports: ["8005:81"] }`, `host port 8005:81/tcp is also published by service "a"`},
		{"one service twice", `
  a: { image: x, ports: ["8080:80", "8080:81"] }`, `host port 8080:81/tcp is also published by this service`},
		{"sctp", `
  a: { image: x, ports: ["8080:80/sctp"] }`, `protocol "sctp": berth publishes tcp and udp ports`},
		{"bad host_ip", `
  a:
    image: x
    ports: [{ target: 80, published: "8080", host_ip: "localhost" }]`, `invalid ip address: localhost`},
		{"bad publish", `
  a: { image: x, ports: ["8080:80"], x-berth: { publish: docker } }`, `x-berth.publish: must be "proxy"`},
		{"direct without ports", `
  a: { image: x, x-berth: { publish: direct } }`, `the service publishes no ports`},
		{"direct replicas on one port", `
  a: { image: x, ports: ["8080:80"], deploy: { replicas: 2 }, x-berth: { publish: direct } }`, `2 replicas cannot all bind host port 8080:80/tcp`},
		{"bad published", `
  a:
    image: x
    ports: [{ target: 80, published: "http" }]`, `published "http" is not a port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadPortsYAML(t, "name: shop\nservices:"+tc.services+"\n")
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err %v; want Errors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestPortsOverlap(t *testing.T) {
	t.Parallel()
	p := func(ip string, pub, end int, proto string) Port {
		return Port{Target: 1, HostIP: ip, Published: pub, PublishedEnd: end, Protocol: proto}
	}
	for _, tc := range []struct {
		a, b Port
		want bool
	}{
		{p("", 80, 0, "tcp"), p("", 80, 0, "udp"), false},
		{p("127.0.0.1", 80, 0, "tcp"), p("127.0.0.2", 80, 0, "tcp"), false},
		{p("127.0.0.1", 80, 0, "tcp"), p("0.0.0.0", 80, 0, "tcp"), true},
		{p("::", 80, 0, "tcp"), p("127.0.0.1", 80, 0, "tcp"), true},
		{p("", 80, 90, "tcp"), p("", 91, 0, "tcp"), false},
		{p("", 80, 90, "tcp"), p("", 85, 95, "tcp"), true},
		{p("", 0, 0, "tcp"), p("", 0, 0, "tcp"), false},
	} {
		if got := PortsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("PortsOverlap(%+v, %+v) = %t; want %t", tc.a, tc.b, got, tc.want)
		}
	}
}
