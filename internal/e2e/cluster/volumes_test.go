package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// volumeCompose is a 3-replica web service, one task per node, mounting
// volume "data" declared as decl (YAML under volumes.data).
func volumeCompose(t *testing.T, name, host, image, decl string) *spec.App {
	t.Helper()
	y := fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: v1 }
    stop_grace_period: 2s
    volumes: ["data:/data", "/scratch"]
    deploy:
      replicas: 3
      placement: { max_replicas_per_node: 1 }
    x-berth:
      port: 8080
      hosts: [%q]
      drain_timeout: 1s
      healthcheck: { path: /up, interval: 200ms, timeout: 1s, deadline: 20s }
volumes:
  data: %s
`, name, image, host, decl)
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, y)
	}
	return app
}

// On a swarm, as docker stack deploy does: a volume's driver_opts and
// labels reach every node a task lands on (the local driver's tmpfs
// options here, the same shape as an NFS share's), and an external
// volume is refused before anything changes, since a node without it
// would create an empty one.
func TestSwarm_Volumes(t *testing.T) {
	l, img := lab(t)
	s := startServer(t, l)
	name, host := newName(t)
	vol := name + "-production-data"
	clients := make([]*client.Client, len(l.Hosts))
	for i, h := range l.Hosts {
		c, err := client.NewClientWithOpts(client.WithHost(h), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	// Registered before removeApp, so it runs after the workload is gone.
	t.Cleanup(func() {
		for _, c := range clients {
			testutil.Eventually(t, time.Minute, "volume "+vol+" removed on "+c.DaemonHost(), func() bool {
				err := c.VolumeRemove(context.Background(), vol, false)
				return err == nil || client.IsErrNotFound(err)
			})
		}
	})
	removeApp(t, l, name)

	_, _, err := deploy(t, s, volumeCompose(t, name, host, img.Ref, "{ external: true, name: "+name+"-ext }"))
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "on a Swarm cluster volumes belong to each node") {
		t.Fatalf("external volume on a swarm: %v", err)
	}
	if rels, _ := s.client.Releases(context.Background(), name, spec.DefaultEnv); len(rels) != 0 {
		t.Fatalf("the refused deploy recorded releases: %+v", rels)
	}

	opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
	if _, _, err := deploy(t, s, volumeCompose(t, name, host, img.Ref, `{ driver_opts: { type: tmpfs, device: tmpfs, o: "size=1m" }, labels: { team: shop } }`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		v, err := c.VolumeInspect(context.Background(), vol)
		if err != nil || v.Driver != "local" || !maps.Equal(v.Options, opts) || v.Labels["team"] != "shop" || v.Labels["berth.volume"] != "data" {
			t.Errorf("volume on %s: %+v %v", c.DaemonHost(), v, err)
		}
	}
}
