package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

// anonymousVolumeOf returns the name of the anonymous volume the running
// container of app's release mounts at target.
func anonymousVolumeOf(t *testing.T, eng *docker.Backend, app, release, target string) string {
	t.Helper()
	ctx := context.Background()
	cs, err := eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelRelease: release})
	if err != nil || len(cs) != 1 {
		t.Fatalf("containers of release %s: %+v %v", release, cs, err)
	}
	ci, err := eng.Client().ContainerInspect(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ci.Mounts {
		if m.Destination == target && m.Type == "volume" && m.Name != "" {
			return m.Name
		}
	}
	t.Fatalf("container %s has no volume at %s: %+v", cs[0].Name, target, ci.Mounts)
	return ""
}

// An anonymous volume (- /scratch) is scratch space of one container: a
// new release (or a rollback) starts with an empty one, and the old one
// goes with its container.
func TestVolumes_AnonymousVolumesAreScratchPerContainer(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	app := func(version string) *spec.App {
		t.Helper()
		p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: %s }
    volumes: ["/scratch"]
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
`, name, image(t).Ref, version, host))
		a, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if _, err := s.deploy(t, app("v1")); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, s.addrs.HTTP, host, "/write?path=/scratch/note&data=v1"); code != 200 {
		t.Fatalf("write: %d", code)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/read?path=/scratch/note"); body != "v1" {
		t.Fatalf("release 1 reads %q", body)
	}
	first := anonymousVolumeOf(t, eng, name, "1", "/scratch")

	if _, err := s.deploy(t, app("v2")); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/read?path=/scratch/note"); code != 404 {
		t.Fatalf("release 2 reads %d %q from its scratch volume, want an empty one", code, body)
	}
	if second := anonymousVolumeOf(t, eng, name, "2", "/scratch"); second == first {
		t.Fatalf("release 2 mounts release 1's anonymous volume %s", first)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := eng.InspectVolume(context.Background(), first)
		if errors.Is(err, engine.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("release 1's anonymous volume %s outlived its container: %v", first, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if _, err := s.rollback(t, name, 0); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/read?path=/scratch/note"); code != 404 {
		t.Fatalf("after the rollback the app reads %d %q, want an empty scratch volume", code, body)
	}
}
