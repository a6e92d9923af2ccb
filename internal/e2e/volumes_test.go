package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

func volumeApp(t *testing.T, name, host, version, extra string) *spec.App {
	t.Helper()
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: %s }
    volumes: ["data:/data"%s]
    deploy:
      resources: { limits: { memory: 64M, cpus: "0.5" } }
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
volumes:
  data: {}
`, name, image(t).Ref, version, extra, host))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// removeVolumesAtEnd removes the named volumes when the test ends, after
// stopping the server and removing app's containers (a volume in use
// cannot be removed). Call it after newApp, so that it runs first.
func (s *server) removeVolumesAtEnd(t *testing.T, eng *docker.Backend, app string, volumes ...string) {
	t.Cleanup(func() {
		s.stop()
		ctx := context.Background()
		cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: app})
		for _, c := range cs {
			_ = eng.RemoveContainer(ctx, c.ID)
		}
		for _, v := range volumes {
			if err := eng.RemoveVolume(ctx, v); err != nil {
				t.Errorf("remove volume %s: %v", v, err)
			}
		}
	})
}

func TestVolumes_DataSurvivesDeploysAndRollbacks(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	if _, err := s.deploy(t, volumeApp(t, name, host, "v1", "")); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, s.addrs.HTTP, host, "/write?path=/data/upload.txt&data=written-by-v1"); code != 200 {
		t.Fatalf("write: %d", code)
	}
	if _, err := s.deploy(t, volumeApp(t, name, host, "v2", "")); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/read?path=/data/upload.txt"); body != "written-by-v1" {
		t.Fatalf("release 2 reads %q", body)
	}
	get(t, s.addrs.HTTP, host, "/write?path=/data/second.txt&data=written-by-v2")
	if _, err := s.rollback(t, name, 0); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"upload.txt": "written-by-v1", "second.txt": "written-by-v2"} {
		if _, body := get(t, s.addrs.HTTP, host, "/read?path=/data/"+file); body != want {
			t.Fatalf("after rollback, %s reads %q", file, body)
		}
	}

	// The volume is scoped to the app environment, listed with its size.
	code, out, _ := s.berth(t, "volumes", name)
	if code != 0 || !strings.Contains(out, name+"-production-data") || !strings.Contains(out, "data") {
		t.Fatalf("berth volumes: %s", out)
	}
	vols, err := s.client.Volumes(context.Background(), name, spec.DefaultEnv)
	if err != nil || len(vols) != 1 || vols[0].Size < int64(len("written-by-v1")) || len(vols[0].UsedBy) != 1 {
		t.Fatalf("volumes: %+v %v", vols, err)
	}

	// Resource limits reach the engine.
	cs, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
	for _, c := range cs {
		if c.MemoryBytes != 64<<20 || c.NanoCPUs != 5e8 {
			t.Errorf("container %s limits: memory %d cpus %d", c.Name, c.MemoryBytes, c.NanoCPUs)
		}
	}
}

func TestVolumes_BindMountsOutsideTheRootAreRefused(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	_, err := s.deploy(t, volumeApp(t, name, host, "v1", `, "/etc:/host-etc:ro"`))
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "bind mount /etc") || !strings.Contains(err.Error(), "--bind-root") {
		t.Fatalf("bind mount of /etc: %v", err)
	}
}
