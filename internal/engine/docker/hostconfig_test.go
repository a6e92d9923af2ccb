package docker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/berth-dev/berth/internal/engine"
)

func TestRestartPolicy_ParsesComposeForms(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]container.RestartPolicy{
		"":               {Name: "no"},
		"no":             {Name: "no"},
		"always":         {Name: "always"},
		"unless-stopped": {Name: "unless-stopped"},
		"on-failure":     {Name: "on-failure"},
		"on-failure:5":   {Name: "on-failure", MaximumRetryCount: 5},
	} {
		if got, err := restartPolicy(in); err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
		if back := policyString(want); back != cmpOr(in, "no") {
			t.Errorf("%+v read back as %q, want %q", want, back, cmpOr(in, "no"))
		}
	}
	for _, in := range []string{"sometimes", "always:3", "on-failure:x"} {
		if _, err := restartPolicy(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestMounts_LongFormOptions(t *testing.T) {
	t.Parallel()
	ms, binds, err := mounts([]engine.Mount{
		{Type: "bind", Source: "/srv/b", Target: "/b", Propagation: "rshared"},
		{Type: "bind", Source: "/srv/z", Target: "/z", ReadOnly: true, SELinux: "z"},
		{Type: "bind", Source: "/srv/Z", Target: "/Z", SELinux: "Z", Propagation: "rslave"},
		{Type: "tmpfs", Target: "/t", TmpfsSize: 1 << 20, TmpfsMode: 0o700},
		{Type: "volume", Source: "v", Target: "/v", NoCopy: true},
		{Type: "volume", Target: "/anon"},
	}, "1.41")
	if err != nil {
		t.Fatal(err)
	}
	want := []mount.Mount{
		{Type: mount.TypeBind, Source: "/srv/b", Target: "/b", BindOptions: &mount.BindOptions{Propagation: "rshared"}},
		{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o700}},
		{Type: mount.TypeVolume, Source: "v", Target: "/v", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
		{Type: mount.TypeVolume, Target: "/anon"},
	}
	if len(ms) != len(want) {
		t.Fatalf("mounts: %+v", ms)
	}
	// The mount API cannot relabel: relabelled binds go in the -v form.
	if wantB := []string{"/srv/z:/z:ro,z", "/srv/Z:/Z:rw,Z,rslave"}; !slices.Equal(binds, wantB) {
		t.Errorf("binds: %q, want %q", binds, wantB)
	}
	for i := range want {
		g, w := ms[i], want[i]
		if g.Type != w.Type || g.Source != w.Source || g.Target != w.Target ||
			(w.BindOptions != nil) != (g.BindOptions != nil) || (w.BindOptions != nil && *g.BindOptions != *w.BindOptions) ||
			(w.TmpfsOptions != nil) != (g.TmpfsOptions != nil) || (w.TmpfsOptions != nil && g.TmpfsOptions.SizeBytes != w.TmpfsOptions.SizeBytes) ||
			(w.TmpfsOptions != nil && g.TmpfsOptions.Mode != w.TmpfsOptions.Mode) ||
			(w.VolumeOptions != nil) != (g.VolumeOptions != nil) || (w.VolumeOptions != nil && g.VolumeOptions.NoCopy != w.VolumeOptions.NoCopy) {
			t.Errorf("mount %d: %+v, want %+v", i, g, w)
		}
	}
	_, _, err = mounts([]engine.Mount{{Type: "volume", Source: "v", Target: "/v", Subpath: "sub"}}, "1.41")
	if err == nil || !strings.Contains(err.Error(), "volume.subpath needs Docker Engine API 1.45") {
		t.Errorf("subpath on 1.41: %v", err)
	}
	ms, _, err = mounts([]engine.Mount{{Type: "volume", Source: "v", Target: "/v", Subpath: "sub"}}, "1.45")
	if err != nil || ms[0].VolumeOptions == nil || ms[0].VolumeOptions.Subpath != "sub" {
		t.Errorf("subpath on 1.45: %+v %v", ms, err)
	}
}

// The mapping of the per-container settings that the real-engine test
// cannot start here (privileged) or that an old engine refuses.
func TestApplyOptions_MapsSettings(t *testing.T) {
	t.Parallel()
	b, err := New(Options{Host: "unix:///nonexistent/berth-test.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	yes := true
	cfg, hc := &container.Config{}, &container.HostConfig{}
	p, err := b.applyOptions(context.Background(), engine.ContainerSpec{Name: "c", Options: &engine.ContainerOptions{
		Privileged: true, Init: &yes, Platform: "linux/arm64/v8", Hostname: "h",
		Devices:     []engine.Device{{Source: "/dev/fuse", Target: "/dev/fuse"}},
		Annotations: map[string]string{"a": "b"},
		Log:         &engine.LogConfig{Driver: "local", Options: map[string]string{"max-size": "5m"}},
	}}, cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	if !hc.Privileged || hc.Init == nil || !*hc.Init || cfg.Hostname != "h" || hc.Annotations["a"] != "b" ||
		hc.LogConfig.Type != "local" || hc.LogConfig.Config["max-size"] != "5m" ||
		len(hc.Devices) != 1 || hc.Devices[0].CgroupPermissions != "rwm" || hc.RestartPolicy.Name != "no" {
		t.Errorf("host config: %+v; config: %+v", hc, cfg)
	}
	if p == nil || p.OS != "linux" || p.Architecture != "arm64" || p.Variant != "v8" {
		t.Errorf("platform: %+v", p)
	}
	// No options: berth's default logging.
	hc = &container.HostConfig{}
	if _, err := b.applyOptions(context.Background(), engine.ContainerSpec{Name: "c"}, &container.Config{}, hc); err != nil {
		t.Fatal(err)
	}
	if hc.LogConfig.Type != "json-file" || hc.LogConfig.Config["max-size"] != "10m" || hc.LogConfig.Config["max-file"] != "3" {
		t.Errorf("default logging: %+v", hc.LogConfig)
	}
}

func TestRlimitRefused_NamesTheUlimit(t *testing.T) {
	t.Parallel()
	err := errors.New("Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: unknown")
	if name, ok := rlimitRefused(err); !ok || name != "nofile" {
		t.Errorf("got %q %v, want nofile", name, ok)
	}
	for _, err := range []error{nil, errors.New("no such container"), errors.New("error setting rlimit type 99: operation not permitted")} {
		if name, ok := rlimitRefused(err); ok {
			t.Errorf("%v: %q", err, name)
		}
	}
}
