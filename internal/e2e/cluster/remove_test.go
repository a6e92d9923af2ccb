package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// berth env remove on --engine swarm: the services, cluster secrets and
// configs, the overlay and the route go; the history stays; a redeploy
// starts afresh.
func TestSwarm_RemoveEnv(t *testing.T) {
	l, img := labShared(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	ctx := context.Background()
	if _, err := s.client.SetSecretOfNewApp(ctx, name, spec.DefaultEnv, "API_KEY", "k-1", nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: v1 }
    stop_grace_period: 2s
    deploy: { replicas: 2 }
    configs: [{ source: app_conf, target: /etc/app/app.conf }]
    x-berth: { port: 8080, hosts: [%q], drain_timeout: 2s, healthcheck: { path: /up, interval: 200ms, timeout: 1s, deadline: 30s } }
configs:
  app_conf: { content: "hello" }
`, name, img.Ref, host)), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(ctx, spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := deploy(t, s, app); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	testutil.Eventually(t, 20*time.Second, "v1 answers", func() bool { c, b := get(t, s.addrs.HTTP, host); return c == 200 && b == "v1" })

	dc, err := client.NewClientWithOpts(client.WithHost(l.Hosts[0]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	mine := filters.NewArgs(filters.Arg("label", "berth.app="+name))
	count := func() (svcs, secrets, configs, nets int) {
		t.Helper()
		ss, err1 := dc.ServiceList(ctx, dswarm.ServiceListOptions{Filters: mine})
		se, err2 := dc.SecretList(ctx, dswarm.SecretListOptions{Filters: mine})
		cs, err3 := dc.ConfigList(ctx, dswarm.ConfigListOptions{Filters: mine})
		ns, err4 := dc.NetworkList(ctx, network.ListOptions{Filters: mine})
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return len(ss), len(se), len(cs), len(ns)
	}
	if a, b, c, d := count(); a != 1 || b != 1 || c != 1 || d != 1 {
		t.Fatalf("before removal: %d services, %d secrets, %d configs, %d networks; want one of each", a, b, c, d)
	}

	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var lines []string
	dep, err := s.client.RemoveEnv(rctx, name, spec.DefaultEnv, dto.RemoveRequest{}, func(p dto.Progress) {
		t.Logf("remove %s: %6.3fs %s", name, p.Elapsed.Seconds(), p.Message)
		lines = append(lines, p.Message)
	})
	if err != nil || dep == nil || dep.Kind != "remove" {
		t.Fatalf("remove: %v (%+v)", err, dep)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"route of web removed", "removed workload " + name + "-production-web", "removed cluster secret", "removed cluster config", "removed network berth-" + name + "-production"} {
		if !strings.Contains(joined, want) {
			t.Errorf("removal progress lacks %q:\n%s", want, joined)
		}
	}
	if a, b, c, d := count(); a != 0 || b != 0 || c != 0 || d != 0 {
		t.Errorf("after removal: %d services, %d secrets, %d configs, %d networks; want none", a, b, c, d)
	}
	if c, _ := get(t, s.addrs.HTTP, host); c != 404 {
		t.Errorf("GET after removal: %d, want 404", c)
	}
	rels, err := s.client.Releases(ctx, name, spec.DefaultEnv)
	if err != nil || len(rels) != 1 || rels[0].Status != "removed" {
		t.Errorf("releases after removal: %+v, %v; want release 1 removed", rels, err)
	}

	// A redeploy starts afresh with the next release number.
	d2, _, err := deploy(t, s, app)
	if err != nil || d2.ReleaseID != 2 {
		t.Fatalf("redeploy: %v (release %d, want 2)", err, d2.ReleaseID)
	}
	testutil.Eventually(t, 20*time.Second, "v1 answers again", func() bool { c, b := get(t, s.addrs.HTTP, host); return c == 200 && b == "v1" })
	if _, err := s.client.RemoveApp(rctx, name, dto.RemoveRequest{}, nil); err != nil {
		t.Errorf("apps remove: %v", err)
	}
	if a, b, c, d := count(); a != 0 || b != 0 || c != 0 || d != 0 {
		t.Errorf("after apps remove: %d services, %d secrets, %d configs, %d networks; want none", a, b, c, d)
	}
}
