package swarm

import (
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// The per-container settings a task can carry reach its spec as docker
// stack deploy sets them.
func TestServiceSpec_ContainerOptions(t *testing.T) {
	yes := true
	s := engine.ContainerSpec{Image: "web:1", Options: &engine.ContainerOptions{
		CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"MKNOD"}, ReadOnly: true, Init: &yes,
		Hostname: "web1", GroupAdd: []string{"2000"}, Sysctls: map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:    []engine.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		ExtraHosts: []string{"db.internal:10.0.0.5"},
		DNS:        []string{"10.0.0.2"}, DNSSearch: []string{"example.internal"}, DNSOptions: []string{"ndots:2"},
		Tmpfs:     map[string]string{"/run": "", "/cache": "size=64m,mode=1777"},
		Log:       &engine.LogConfig{Driver: "local", Options: map[string]string{"max-size": "5m"}},
		PidsLimit: 100, MemoryReservation: 32 << 20,
	}}
	spec := serviceSpec("web", s, "web:1", "", 1)
	cs := spec.TaskTemplate.ContainerSpec
	if !slices.Equal(cs.CapabilityAdd, []string{"NET_ADMIN"}) || !slices.Equal(cs.CapabilityDrop, []string{"MKNOD"}) ||
		!cs.ReadOnly || cs.Init == nil || !*cs.Init || cs.Hostname != "web1" || !slices.Equal(cs.Groups, []string{"2000"}) ||
		cs.Sysctls["net.core.somaxconn"] != "1024" {
		t.Errorf("container spec: %+v", cs)
	}
	if !reflect.DeepEqual(cs.Ulimits, []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}}) {
		t.Errorf("ulimits: %+v", cs.Ulimits)
	}
	if !slices.Equal(cs.Hosts, []string{"10.0.0.5 db.internal"}) {
		t.Errorf("hosts (hosts(5) lines): %q", cs.Hosts)
	}
	if want := (&swarm.DNSConfig{Nameservers: []string{"10.0.0.2"}, Search: []string{"example.internal"}, Options: []string{"ndots:2"}}); !reflect.DeepEqual(cs.DNSConfig, want) {
		t.Errorf("dns: %+v", cs.DNSConfig)
	}
	wantMounts := []mount.Mount{
		{Type: mount.TypeTmpfs, Target: "/cache", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777}},
		{Type: mount.TypeTmpfs, Target: "/run"},
	}
	if !reflect.DeepEqual(cs.Mounts, wantMounts) {
		t.Errorf("tmpfs mounts: %+v", cs.Mounts)
	}
	if d := spec.TaskTemplate.LogDriver; d == nil || d.Name != "local" || d.Options["max-size"] != "5m" {
		t.Errorf("log driver: %+v", d)
	}
	if r := spec.TaskTemplate.Resources; r == nil || r.Limits == nil || r.Limits.Pids != 100 || r.Reservations == nil || r.Reservations.MemoryBytes != 32<<20 {
		t.Errorf("resources: %+v", r)
	}

	// Without options: berth's default logging, nothing else.
	plain := serviceSpec("web", engine.ContainerSpec{Image: "web:1"}, "web:1", "", 1)
	if d := plain.TaskTemplate.LogDriver; d == nil || d.Name != "json-file" || d.Options["max-size"] != "10m" || d.Options["max-file"] != "3" {
		t.Errorf("default log driver: %+v", d)
	}
	if c := plain.TaskTemplate.ContainerSpec; c.Hostname != "" || c.Init != nil || len(c.Mounts) > 0 || c.DNSConfig != nil {
		t.Errorf("a plain spec got options: %+v", c)
	}
}

func TestServiceMount_LongForm(t *testing.T) {
	got := serviceMount(engine.Mount{Type: "tmpfs", Target: "/t", TmpfsSize: 1 << 20, TmpfsMode: 0o700})
	if want := (mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: os.FileMode(0o700)}}); !reflect.DeepEqual(got, want) {
		t.Errorf("tmpfs: %+v", got)
	}
	got = serviceMount(engine.Mount{Type: "volume", Source: "v", Target: "/v", NoCopy: true, Volume: &engine.VolumeSpec{Name: "v"}})
	if got.VolumeOptions == nil || !got.VolumeOptions.NoCopy {
		t.Errorf("nocopy: %+v", got)
	}
	got = serviceMount(engine.Mount{Type: "volume", Source: "ext", Target: "/v", NoCopy: true})
	if got.VolumeOptions == nil || !got.VolumeOptions.NoCopy {
		t.Errorf("nocopy on an external volume: %+v", got)
	}
}
