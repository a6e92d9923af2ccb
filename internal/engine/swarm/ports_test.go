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
