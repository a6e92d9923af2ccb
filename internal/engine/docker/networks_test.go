package docker_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// subnetsOf returns the IPv4 subnets of every network of the engine by
// network ID, with the networks' names.
func subnetsOf(t *testing.T, b *docker.Backend) (map[string][]netip.Prefix, map[string]string) {
	t.Helper()
	nets, err := b.Client().NetworkList(context.Background(), network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	subnets, names := map[string][]netip.Prefix{}, map[string]string{}
	for _, n := range nets {
		names[n.ID] = n.Name
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Addr().Is4() {
				subnets[n.ID] = append(subnets[n.ID], p)
			}
		}
	}
	return subnets, names
}

// removeNetworks removes the named networks when the test ends.
func removeNetworks(t *testing.T, b *docker.Backend, names *[]string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, n := range *names {
			if err := b.RemoveNetwork(ctx, n); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
}

// Docker's default address pools hold about 30 bridge networks; berth
// cuts its own from 10.200.0.0/16, so well over 30 fit, none overlapping
// another network, even with three backends (three berth processes)
// creating at once. BERTH_TEST_NETWORKS sets how many (default 60).
func TestBackend_ManyNetworks(t *testing.T) {
	n := 60
	if v := os.Getenv("BERTH_TEST_NETWORKS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("BERTH_TEST_NETWORKS=%q: %v", v, err)
		}
	}
	backends := []*docker.Backend{newBackend(t), newBackend(t), newBackend(t)}
	b := backends[0]
	prefix := uniq("berth-pool")
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	removeNetworks(t, b, &names)

	ids := make([]string, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for k, be := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += len(backends) {
				ids[i], errs[i] = be.EnsureNetwork(context.Background(), names[i], map[string]string{"test": "pool"})
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("network %d of %d: %v", i, n, err)
		}
	}
	t.Logf("%d networks created by %d backends at once in %s (%s each)", n, len(backends), took.Round(time.Millisecond), (took / time.Duration(n)).Round(time.Millisecond))

	pool := netip.MustParsePrefix(docker.DefaultNetworkPool)
	subnets, netNames := subnetsOf(t, b)
	ours := map[string]bool{}
	for i, id := range ids {
		ours[id] = true
		s := subnets[id]
		if len(s) != 1 || s[0].Bits() != docker.DefaultNetworkSize || !pool.Contains(s[0].Addr()) {
			t.Errorf("network %s: subnets %v, want one /%d in %s", names[i], s, docker.DefaultNetworkSize, pool)
		}
	}
	for id := range ours {
		for other, theirs := range subnets {
			if other == id {
				continue
			}
			for _, o := range theirs {
				if subnets[id][0].Overlaps(o) {
					t.Errorf("network %s (%s) overlaps %s (%s)", netNames[id], subnets[id][0], netNames[other], o)
				}
			}
		}
	}

	// A network keeps its subnet: a new backend (berth restarted) finds
	// it by name and creates nothing.
	again := newBackend(t)
	for i, name := range names {
		if id, err := again.EnsureNetwork(context.Background(), name, nil); err != nil || id != ids[i] {
			t.Fatalf("ensure %s after a restart: %q %v, want %q", name, id, err, ids[i])
		}
	}
	// Other tests create networks in parallel: count only this test's.
	countOurs := func(names map[string]string) int {
		k := 0
		for _, name := range names {
			if strings.HasPrefix(name, prefix+"-") {
				k++
			}
		}
		return k
	}
	if _, afterNames := subnetsOf(t, b); countOurs(afterNames) != countOurs(netNames) {
		t.Errorf("%d of this test's networks before ensuring again, %d after", countOurs(netNames), countOurs(afterNames))
	}

	// A container on the last one gets an address in its subnet.
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	last := names[n-1]
	c, err := b.CreateContainer(context.Background(), engine.ContainerSpec{
		Name: last + "-web", Image: img.ID, Network: last, StopGrace: time.Second,
		Labels: map[string]string{engine.LabelApp: last},
	})
	if c.ID != "" {
		t.Cleanup(func() { _ = b.RemoveContainer(context.Background(), c.ID) })
	}
	if err != nil {
		t.Fatal(err)
	}
	if a, err := netip.ParseAddr(c.Addresses[last]); err != nil || !subnets[ids[n-1]][0].Contains(a) {
		t.Fatalf("container on %s (%s): address %q", last, subnets[ids[n-1]][0], c.Addresses[last])
	}
}

// A full pool fails the create, naming the flag that widens it.
func TestBackend_NetworkPoolExhausted(t *testing.T) {
	newBackend(t) // skips without an engine
	// Two /28s in a /27 of its own, out of the way of the default pool.
	third := byte(time.Now().UnixNano() % 256)
	pool, err := docker.NewSubnetPool(fmt.Sprintf("10.252.%d.0/27", third), 28)
	if err != nil {
		t.Fatal(err)
	}
	b, err := docker.New(docker.Options{Networks: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	prefix := uniq("berth-full")
	names := []string{prefix + "-0", prefix + "-1", prefix + "-2"}
	removeNetworks(t, b, &names)
	for _, name := range names[:2] {
		if _, err := b.EnsureNetwork(context.Background(), name, nil); err != nil {
			t.Fatalf("ensure %s in %s: %v", name, pool, err)
		}
	}
	_, err = b.EnsureNetwork(context.Background(), names[2], nil)
	if !errors.Is(err, docker.ErrPoolExhausted) || !strings.Contains(err.Error(), "--network-pool "+fmt.Sprintf("10.252.%d.0/26", third)) {
		t.Fatalf("third network in a pool of two: %v", err)
	}
	t.Logf("the error: %v", err)
}

// With EngineSubnets the engine picks the subnet, from its own pools; when
// they are full (other tests on a shared engine use them too) the error
// says how to get out.
func TestBackend_EngineSubnets(t *testing.T) {
	newBackend(t)
	b, err := docker.New(docker.Options{EngineSubnets: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	names := []string{uniq("berth-engine")}
	removeNetworks(t, b, &names)
	id, err := b.EnsureNetwork(context.Background(), names[0], nil)
	if err != nil {
		if !strings.Contains(err.Error(), "default-address-pools are full") || !strings.Contains(err.Error(), "--network-pool") {
			t.Fatal(err)
		}
		t.Logf("the engine's pools are full: %v", err)
		return
	}
	subnets, _ := subnetsOf(t, b)
	if s := subnets[id]; len(s) != 1 || s[0].Overlaps(netip.MustParsePrefix(docker.DefaultNetworkPool)) {
		t.Fatalf("engine-picked subnets %v", s)
	}
}
