package swarm

import (
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/mount"

	"github.com/berth-dev/berth/internal/engine"
)

// Mounts reach the task as docker stack deploy makes them: a volume
// berth owns with its driver, options and labels (the node creates it
// with them), an external one by name only, an anonymous one without a
// source.
func TestServiceMount(t *testing.T) {
	nfs := map[string]string{"type": "nfs", "o": "addr=10.0.0.5,rw", "device": ":/exports/shop"}
	labels := map[string]string{engine.LabelManaged: "true", "team": "shop"}
	for _, tc := range []struct {
		name string
		in   engine.Mount
		want mount.Mount
	}{
		{"owned, with options", engine.Mount{Type: "volume", Source: "shop-production-data", Target: "/data",
			Volume: &engine.VolumeSpec{Name: "shop-production-data", DriverOpts: nfs, Labels: labels}},
			mount.Mount{Type: mount.TypeVolume, Source: "shop-production-data", Target: "/data",
				VolumeOptions: &mount.VolumeOptions{Labels: labels, DriverConfig: &mount.Driver{Options: nfs}}}},
		{"owned, plain", engine.Mount{Type: "volume", Source: "shop-production-cache", Target: "/cache", ReadOnly: true,
			Volume: &engine.VolumeSpec{Name: "shop-production-cache", Labels: labels}},
			mount.Mount{Type: mount.TypeVolume, Source: "shop-production-cache", Target: "/cache", ReadOnly: true,
				VolumeOptions: &mount.VolumeOptions{Labels: labels}}},
		{"external", engine.Mount{Type: "volume", Source: "media", Target: "/media"},
			mount.Mount{Type: mount.TypeVolume, Source: "media", Target: "/media"}},
		{"anonymous", engine.Mount{Type: "volume", Target: "/scratch"},
			mount.Mount{Type: mount.TypeVolume, Target: "/scratch"}},
		{"bind", engine.Mount{Type: "bind", Source: "/srv/shop", Target: "/srv", ReadOnly: true},
			mount.Mount{Type: mount.TypeBind, Source: "/srv/shop", Target: "/srv", ReadOnly: true}},
	} {
		if got := serviceMount(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}
