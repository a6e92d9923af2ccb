package deploy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

func TestDirectPorts_BindOnTheContainerOnlyWhenAsked(t *testing.T) {
	ports := []spec.Port{
		{Target: 7000, Published: 17000, HostIP: "127.0.0.1", Protocol: "tcp"},
		{Target: 53, Published: 5300, PublishedEnd: 5310, Protocol: "udp"},
		{Target: 9000, Protocol: "tcp"},
	}
	if got := directPorts(spec.Service{Ports: ports}); got != nil {
		t.Errorf("proxied service: bindings %+v; want none (berth's listener holds the port)", got)
	}
	got := directPorts(spec.Service{Ports: ports, Publish: spec.PublishDirect})
	want := []engine.PortBinding{
		{HostIP: "127.0.0.1", HostPort: "17000", Target: 7000, Protocol: "tcp"},
		{HostPort: "5300-5310", Target: 53, Protocol: "udp"},
		{Target: 9000, Protocol: "tcp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bindings %+v; want %+v", got, want)
	}
}

func TestClusterPorts_HostModeStopFirst(t *testing.T) {
	app := &spec.App{Name: "shop", Services: []spec.Service{{
		Name: "dns", Image: "dns:1", Replicas: 2, Port: 8080, Hosts: []string{"dns.example"},
		Ports: []spec.Port{{Target: 53, Published: 53, Protocol: "udp", Mode: "host"}, {Target: 9000, Protocol: "tcp", Mode: "host"}},
	}}}
	w := workloadSpec(app, "production", app.Services[0], store.Release{ID: 3}, nil, nil, nil)
	want := []engine.PortBinding{{HostPort: "53", Target: 53, Protocol: "udp"}, {Target: 9000, Protocol: "tcp"}}
	if !reflect.DeepEqual(w.Published, want) {
		t.Errorf("published %+v; want %+v", w.Published, want)
	}
	if w.Update.Order != engine.OrderStopFirst || w.Rollback.Order != engine.OrderStopFirst {
		t.Errorf("orders %q/%q; want stop-first: a task holding host port 53 leaves no room for its successor on its node", w.Update.Order, w.Rollback.Order)
	}
	if w.Template.Labels[engine.LabelProxyPort] != "8080" {
		t.Errorf("labels %v; want %s=8080", w.Template.Labels, engine.LabelProxyPort)
	}
	plain := workloadSpec(app, "production", spec.Service{Name: "web", Image: "w:1", Replicas: 1, Port: 8080}, store.Release{ID: 3}, nil, nil, nil)
	if plain.Published != nil || plain.Update.Order != engine.OrderStartFirst || plain.Template.Labels[engine.LabelProxyPort] != "" {
		t.Errorf("a service without ports changed: %+v", plain)
	}
}

func TestClusterPortRefusals(t *testing.T) {
	svc := spec.Service{Name: "echo", Publish: spec.PublishDirect, Ports: []spec.Port{
		{Target: 7000, Published: 7000, Protocol: "tcp"},
		{Target: 7001, Published: 7001, Protocol: "tcp", Mode: "host", HostIP: "127.0.0.1"},
		{Target: 7002, Published: 7002, PublishedEnd: 7005, Protocol: "tcp", Mode: "host"},
		{Target: 7003, Published: 7003, Protocol: "tcp", Mode: "host"},
	}}
	got := clusterPortRefusals(svc)
	for i, want := range []string{
		`service "echo": ports[0] 7000:7000/tcp: Swarm's ingress routing mesh cannot publish berth's services`,
		`service "echo": ports[1] 127.0.0.1:7001:7001/tcp: Swarm publishes a port on every address of the node: remove host_ip`,
		`service "echo": ports[2] 7002-7005:7002/tcp: Swarm publishes one port per entry`,
		`service "echo": x-berth.publish: direct has no meaning on a Swarm cluster`,
	} {
		if i >= len(got) || !strings.HasPrefix(got[i], want) {
			t.Errorf("refusals %q; want [%d] to start %q", got, i, want)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d refusals; want 4 (ports[3] is fine)", len(got))
	}
}
