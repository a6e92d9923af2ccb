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
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// Two berth servers on one swarm (staging and production, or one
// started twice by mistake) deploying an app of the same name: the
// second is refused with the first's server id before it changes
// anything, its removal of the app leaves the first's service, tasks
// and overlay alone, and the first's release keeps serving.
func TestSwarm_SecondServerCannotTakeAnAppOver(t *testing.T) {
	l, img := labShared(t)
	a, b := startServer(t, l), startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	ctx := context.Background()
	app := func(version string) *spec.App {
		p := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: %s }
    stop_grace_period: 2s
    deploy: { replicas: 2 }
    x-berth: { port: 8080, hosts: [%q], drain_timeout: 2s, healthcheck: { path: /up, interval: 200ms, timeout: 1s, deadline: 30s } }
`, name, img.Ref, version, host)), 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := spec.Load(ctx, spec.LoadOptions{Files: []string{p}})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	if _, _, err := deploy(t, a, app("v1")); err != nil {
		t.Fatalf("deploy on A: %v", err)
	}
	testutil.Eventually(t, 20*time.Second, "A serves v1", func() bool { c, body := get(t, a.addrs.HTTP, host); return c == 200 && body == "v1" })
	raw, err := os.ReadFile(filepath.Join(a.dataDir, daemon.ServerIDFile))
	if err != nil {
		t.Fatal(err)
	}
	idA := strings.TrimSpace(string(raw))

	dc, err := client.NewClientWithOpts(client.WithHost(l.Hosts[0]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	// A's service and its tasks' containers carry A's id; so does its
	// overlay.
	service := func() dswarm.Service {
		t.Helper()
		svc, _, err := dc.ServiceInspectWithRaw(ctx, name+"-production-web", dswarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatalf("A's service: %v", err)
		}
		return svc
	}
	before := service()
	if got := before.Spec.Labels[engine.LabelServer]; got != idA {
		t.Errorf("A's service carries server %q, want %s", got, idA)
	}
	if got := before.Spec.TaskTemplate.ContainerSpec.Labels[engine.LabelServer]; got != idA {
		t.Errorf("A's task containers carry server %q, want %s", got, idA)
	}
	nets, err := dc.NetworkList(ctx, networkListOptions(name))
	if err != nil || len(nets) != 1 || nets[0].Labels[engine.LabelServer] != idA {
		t.Errorf("A's overlay: %+v %v, want one carrying %s", nets, err, idA)
	}

	_, lines, err := deploy(t, b, app("v2"))
	if err == nil || !strings.Contains(err.Error(), "another berth server") || !strings.Contains(err.Error(), idA) {
		t.Fatalf("deploy of A's app name on B: %v, want a refusal naming server %s\n%s", err, idA, strings.Join(lines, "\n"))
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, _ = b.client.RemoveEnv(rctx, name, spec.DefaultEnv, dto.RemoveRequest{}, nil)

	after := service()
	if after.Version.Index != before.Version.Index || after.PreviousSpec != nil {
		t.Errorf("A's service changed under B: version %d → %d, previous spec %v", before.Version.Index, after.Version.Index, after.PreviousSpec != nil)
	}
	if nets, err := dc.NetworkList(ctx, networkListOptions(name)); err != nil || len(nets) != 1 {
		t.Errorf("A's overlay after B's removal: %+v %v", nets, err)
	}
	if c, body := get(t, a.addrs.HTTP, host); c != 200 || body != "v1" {
		t.Errorf("A serves %d %q after B's attempts, want v1", c, body)
	}
	if c, _ := get(t, b.addrs.HTTP, host); c == 200 {
		t.Errorf("B serves A's app")
	}
}

func networkListOptions(app string) network.ListOptions {
	return network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", engine.LabelApp+"="+app))}
}
