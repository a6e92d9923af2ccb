package swarm

import (
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

func TestPublishedPorts_HostMode(t *testing.T) {
	got := publishedPorts([]engine.PortBinding{{HostPort: "53", Target: 53, Protocol: "udp"}, {Target: 9000, Protocol: "tcp"}})
	want := []swarm.PortConfig{
		{Protocol: swarm.PortConfigProtocolUDP, TargetPort: 53, PublishedPort: 53, PublishMode: swarm.PortConfigPublishModeHost},
		{Protocol: swarm.PortConfigProtocolTCP, TargetPort: 9000, PublishMode: swarm.PortConfigPublishModeHost},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ports %+v; want %+v", got, want)
	}
}

func TestProxyPort_BerthsPortAmongComposePorts(t *testing.T) {
	host := swarm.PortConfigPublishModeHost
	svc := swarm.Service{Spec: swarm.ServiceSpec{EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{
		{TargetPort: 8080, PublishMode: host},                      // berth's: Swarm picks
		{TargetPort: 8080, PublishedPort: 8080, PublishMode: host}, // Compose "8080:8080"
		{TargetPort: 53, PublishedPort: 53, PublishMode: host, Protocol: swarm.PortConfigProtocolUDP},
	}}}}
	task := swarm.Task{Status: swarm.TaskStatus{PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{
		{TargetPort: 53, PublishedPort: 53, PublishMode: host, Protocol: swarm.PortConfigProtocolUDP},
		{TargetPort: 8080, PublishedPort: 8080, PublishMode: host},
		{TargetPort: 8080, PublishedPort: 30123, PublishMode: host},
	}}}}
	if got := proxyPort(svc, task, "8080"); got != 30123 {
		t.Errorf("proxy port %d; want 30123, the one Swarm picked for x-berth.port", got)
	}
	if got := proxyPort(svc, task, ""); got != 53 {
		t.Errorf("without the label: %d; want the first host port, as before", got)
	}
	only := swarm.Task{Status: swarm.TaskStatus{PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{{TargetPort: 8080, PublishedPort: 8080, PublishMode: host}}}}}
	if got := proxyPort(svc, only, "8080"); got != 8080 {
		t.Errorf("only the Compose port on the target: %d; want 8080", got)
	}
}
