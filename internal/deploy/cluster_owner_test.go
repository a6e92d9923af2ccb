package deploy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// Two berth servers on one swarm deploying an app of the same name: the
// second's deploy is refused with the first's server id before it
// changes anything, its removal of the app takes none of the first's
// workloads, secrets, configs or networks, and the first's release keeps
// serving on its tasks.
func TestDeployer_ClusterServersLeaveEachOthersAppsAlone(t *testing.T) {
	a := newClusterFixture(t)
	ctx := context.Background()
	const idA, idB = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
	if err := a.st.SetSecret("shop", "production", "API_KEY", "k1"); err != nil {
		t.Fatal(err)
	}
	app := func(v string) *spec.App {
		x := clusterApp(v)
		x.Services[0].Configs = []spec.ConfigFile{{Name: "site", Target: "/etc/site.conf", Content: "a=" + v}}
		return x
	}
	a.f.SetServerID(idA)
	if _, err := a.deploy(t, app("v1"), DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{engine.LabelApp: "shop", engine.LabelEnv: "production"}
	type objects struct {
		workloads, secrets, configs, networks int
		release                               string
	}
	count := func() objects {
		t.Helper()
		var o objects
		ws, err := a.f.ListWorkloads(ctx, labels)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Labels[engine.LabelServer] != idA {
				t.Errorf("workload %s carries server %q, want %s", w.Name, w.Labels[engine.LabelServer], idA)
			}
			o.release = w.Labels[engine.LabelRelease]
		}
		ss, _ := a.f.ListSecrets(ctx, labels)
		cs, _ := a.f.ConfigsByLabel(ctx, labels)
		ns, _ := a.f.NetworksByLabel(ctx, labels)
		o.workloads, o.secrets, o.configs, o.networks = len(ws), len(ss), len(cs), len(ns)
		return o
	}
	before := count()
	if before.workloads != 1 || before.secrets != 1 || before.configs != 1 || before.networks != 1 {
		t.Fatalf("server A's objects: %+v, want one of each", before)
	}

	// Server B: its own store and proxy, the same swarm.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pxB := proxy.New(proxy.Options{Logger: log})
	stB := newTestStore(t)
	b := New(Options{Engine: a.f, Cluster: a.f, Store: stB, Proxy: pxB, Logger: log})
	a.f.SetServerID(idB)
	if ws, _ := a.f.ListWorkloads(ctx, labels); len(ws) != 0 {
		t.Errorf("server B lists A's workloads: %+v", ws)
	}
	if in, _ := a.f.ListInstances(ctx, labels); len(in) != 0 {
		t.Errorf("server B lists A's tasks: %+v", in)
	}
	_, err := b.Deploy(ctx, app("v2"), "production", DeployOptions{}, nil)
	if !errors.Is(err, engine.ErrForeign) || !strings.Contains(err.Error(), idA) || !strings.Contains(err.Error(), "give this one another name") {
		t.Fatalf("B's deploy of A's app name: %v, want a refusal naming server %s and what to do", err, idA)
	}
	if p, _ := pxB.Route(routeKey("shop", "production", "web")); p != nil && len(p.Status()) > 0 {
		t.Errorf("B routes to %d task(s) of A's app", len(p.Status()))
	}
	if _, err := b.RemoveEnv(ctx, "shop", "production", RemoveOptions{}, nil); err != nil && errors.Is(err, engine.ErrForeign) {
		t.Errorf("B's removal touched A's objects: %v", err)
	}

	a.f.SetServerID(idA)
	if after := count(); after != before {
		t.Errorf("A's objects after B's deploy and removal: %+v, want %+v", after, before)
	}
	if got := a.get(t); got != "v1" {
		t.Errorf("A serves %q, want v1", got)
	}
	// A's own next release still rolls out over its workload.
	if _, err := a.deploy(t, app("v3"), DeployOptions{}); err != nil {
		t.Fatalf("A's next deploy: %v", err)
	}
	if got := a.get(t); got != "v3" {
		t.Errorf("A serves %q after its v3, want v3", got)
	}
}
