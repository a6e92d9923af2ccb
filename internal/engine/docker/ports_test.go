package docker

import (
	"reflect"
	"testing"

	"github.com/docker/go-connections/nat"

	"github.com/berth-dev/berth/internal/engine"
)

// A container's published ports reach the engine as docker compose sends
// them: each container port exposed, with its host bindings (address,
// port, range or none), tcp unless it says udp.
func TestPortBindings_AsComposeSendsThem(t *testing.T) {
	t.Parallel()
	if set, m := portBindings(nil); set != nil || m != nil {
		t.Errorf("no ports: %v %v; want nothing (the engine's defaults)", set, m)
	}
	set, m := portBindings([]engine.PortBinding{
		{HostIP: "127.0.0.1", HostPort: "17000", Target: 7000, Protocol: "tcp"},
		{HostPort: "5300-5310", Target: 53, Protocol: "udp"},
		{Target: 9000},
		{HostIP: "::1", HostPort: "17001", Target: 7000, Protocol: "tcp"},
	})
	wantSet := nat.PortSet{"7000/tcp": {}, "53/udp": {}, "9000/tcp": {}}
	wantMap := nat.PortMap{
		"7000/tcp": {{HostIP: "127.0.0.1", HostPort: "17000"}, {HostIP: "::1", HostPort: "17001"}},
		"53/udp":   {{HostPort: "5300-5310"}},
		"9000/tcp": {{}},
	}
	if !reflect.DeepEqual(set, wantSet) {
		t.Errorf("exposed %v; want %v", set, wantSet)
	}
	if !reflect.DeepEqual(m, wantMap) {
		t.Errorf("bindings %v; want %v", m, wantMap)
	}
}
