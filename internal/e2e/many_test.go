package e2e

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// More app environments than Docker's default address pools have
// networks for (about 30) deploy on one host, each on a subnet of its own
// from berth's pool, and keep their subnets when berth restarts.
// BERTH_TEST_APPS sets how many (default 40).
func TestManyAppEnvironments(t *testing.T) {
	n := 40
	if v := os.Getenv("BERTH_TEST_APPS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("BERTH_TEST_APPS=%q: %v", v, err)
		}
	}
	eng := requireDocker(t)
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	type app struct{ name, host string }
	apps := make([]app, n)
	for i := range apps {
		apps[i].name, apps[i].host = newApp(t, eng)
	}
	// Remove them 8 at a time before newApp's cleanups, one by one, run.
	t.Cleanup(func() {
		s.stop()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, a := range apps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				removeApp(eng, a.name)
			}()
		}
		wg.Wait()
	})

	// Eight deploys at a time, as a team's CI might run them.
	start := time.Now()
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = s.deploy(t, loadApp(t, a.name, a.host, appOpts{Version: a.name, Replicas: 1}))
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("deploy %d of %d (%s): %v", i+1, n, apps[i].name, err)
		}
	}
	t.Logf("%d app environments deployed, 8 at a time, in %s", n, took.Round(time.Millisecond))

	pool := netip.MustParsePrefix(docker.DefaultNetworkPool)
	subnets := map[string]netip.Prefix{} // app → its network's subnet
	owner := map[netip.Prefix]string{}
	for _, a := range apps {
		if code, body := get(t, s.addrs.HTTP, a.host, "/"); code != 200 || body != a.name {
			t.Fatalf("%s: %d %q", a.name, code, body)
		}
		nw, err := eng.Client().NetworkInspect(context.Background(), deploy.NetworkName(a.name, spec.DefaultEnv), network.InspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(nw.IPAM.Config) != 1 {
			t.Fatalf("%s: IPAM %+v", nw.Name, nw.IPAM)
		}
		p, err := netip.ParsePrefix(nw.IPAM.Config[0].Subnet)
		if err != nil || !pool.Contains(p.Addr()) {
			t.Fatalf("%s: subnet %q, want one in %s", nw.Name, nw.IPAM.Config[0].Subnet, pool)
		}
		if other, dup := owner[p]; dup {
			t.Fatalf("%s and %s share %s", a.name, other, p)
		}
		subnets[a.name], owner[p] = p, a.name
	}

	// Restarted, berth re-adopts them all; a deploy keeps the subnet.
	s.stop()
	s = startServer(t, dataDir)
	first := apps[0]
	if _, err := s.deploy(t, loadApp(t, first.name, first.host, appOpts{Version: "again", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		want := a.name
		if a == first {
			want = "again"
		}
		testutil.Eventually(t, 20*time.Second, "after the restart, "+a.name+" serves "+want, func() bool {
			code, body := get(t, s.addrs.HTTP, a.host, "/")
			return code == 200 && body == want
		})
	}
	nw, err := eng.Client().NetworkInspect(context.Background(), deploy.NetworkName(first.name, spec.DefaultEnv), network.InspectOptions{})
	if err != nil || len(nw.IPAM.Config) != 1 || nw.IPAM.Config[0].Subnet != subnets[first.name].String() {
		t.Fatalf("after the restart and a deploy, %s's network: %+v %v; want subnet %s", first.name, nw.IPAM, err, subnets[first.name])
	}
}
