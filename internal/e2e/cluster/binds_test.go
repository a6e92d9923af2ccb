package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/spec"
)

// On a swarm a host path under a --bind-root is mounted as docker stack
// deploy mounts it (it exists on every node of the lab, which share a
// file system), and a bind of the project's files is refused before
// anything changes, with the configs: to write instead.
func TestSwarm_BindMounts(t *testing.T) {
	l, img := lab(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "greeting"), []byte("hello from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, l, func(c *daemon.Config) { c.BindRoots = []string{root} })
	name, host := newName(t)
	removeApp(t, l, name)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(volumes string) *spec.App {
		t.Helper()
		p := filepath.Join(dir, "compose.yaml")
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    stop_grace_period: 2s
    volumes: [%s]
    deploy: { replicas: 2 }
    x-berth:
      port: 8080
      hosts: [%q]
      drain_timeout: 1s
      healthcheck: { path: /up, interval: 200ms, timeout: 1s, deadline: 20s }
`, name, img.Ref, volumes, host)), 0o644); err != nil {
			t.Fatal(err)
		}
		app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}

	_, _, err := deploy(t, s, load(`"./app.conf:/etc/app.conf"`))
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "declare it as a Compose config") {
		t.Fatalf("project bind on a swarm: %v", err)
	}
	if rels, _ := s.client.Releases(context.Background(), name, spec.DefaultEnv); len(rels) != 0 {
		t.Fatalf("the refused deploy recorded releases: %+v", rels)
	}

	if _, _, err := deploy(t, s, load(`"`+root+`:/host:ro"`)); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if code, body := getPath(t, s.addrs.HTTP, host, "/read?path=/host/greeting"); code != 200 || body != "hello from the host" {
			t.Fatalf("a task reads %d %q", code, body)
		}
	}
}
