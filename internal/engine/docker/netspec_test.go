package docker_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
)

// A network from a spec gets the file's settings; without ipam, a subnet
// of the pool; a subnet that overlaps the pool or another network is
// refused naming both, and nothing is created.
func TestBackend_EnsureNetworkSpec(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ctx := context.Background()
	var names []string
	removeNetworks(t, b, &names)
	pooled, fixed, clash, inPool := uniq("berth-spec-pooled"), uniq("berth-spec-fixed"), uniq("berth-spec-clash"), uniq("berth-spec-inpool")
	names = append(names, pooled, fixed, clash, inPool)

	n, err := b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: pooled, Internal: true, Labels: map[string]string{"team": "shop"},
		DriverOpts: map[string]string{"com.docker.network.bridge.enable_icc": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	ni, err := b.Client().NetworkInspect(ctx, n.ID, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := netip.MustParsePrefix(docker.DefaultNetworkPool)
	if !ni.Internal || ni.Driver != "bridge" || ni.Labels["team"] != "shop" || ni.Options["com.docker.network.bridge.enable_icc"] != "true" ||
		len(ni.IPAM.Config) != 1 || !pool.Contains(netip.MustParsePrefix(ni.IPAM.Config[0].Subnet).Addr()) {
		t.Errorf("pooled network: %+v", ni)
	}
	again, err := b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: pooled})
	if err != nil || again.ID != n.ID || !again.Internal {
		t.Errorf("second ensure: %+v %v", again, err)
	}

	sub := freeSubnet(t, b)
	gw := sub.Addr().Next()
	f, err := b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: fixed, IPAM: &engine.IPAM{Config: []engine.IPAMPool{{Subnet: sub.String(), Gateway: gw.String()}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Subnets) != 1 || f.Subnets[0] != sub.String() {
		t.Errorf("fixed network subnets %v, want %s", f.Subnets, sub)
	}
	_, err = b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: clash, IPAM: &engine.IPAM{Config: []engine.IPAMPool{{Subnet: sub.String()}}}})
	if err == nil || !strings.Contains(err.Error(), "overlaps network "+fixed+"'s subnet "+sub.String()) {
		t.Errorf("overlapping subnet: %v", err)
	}
	_, err = b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: inPool, IPAM: &engine.IPAM{Config: []engine.IPAMPool{{Subnet: "10.200.250.0/24"}}}})
	if err == nil || !strings.Contains(err.Error(), "overlaps berth's network pool 10.200.0.0/16") {
		t.Errorf("subnet in the pool: %v", err)
	}
	// enable_ipv6 without an IPv6 subnet works only when the engine has
	// IPv6 pools (20.10 has none by default): refused saying what to do.
	v6 := uniq("berth-spec-v6")
	names = append(names, v6)
	if _, err := b.EnsureNetworkSpec(ctx, engine.NetworkSpec{Name: v6, EnableIPv6: true}); err != nil && !strings.Contains(err.Error(), "enable_ipv6 needs an IPv6 subnet: give the network's ipam.config an IPv6 subnet") {
		t.Errorf("enable_ipv6 refused without the fix: %v", err)
	}
	for _, name := range []string{clash, inPool} {
		if _, err := b.InspectNetwork(ctx, name); err == nil {
			t.Errorf("refused network %s was created", name)
		}
	}
}

// freeSubnet returns a /24 of 10.251.0.0/16 no network overlaps.
func freeSubnet(t *testing.T, b *docker.Backend) netip.Prefix {
	t.Helper()
	subnets, _ := subnetsOf(t, b)
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 251, byte(i), 0}), 24)
		free := true
		for _, ps := range subnets {
			for _, q := range ps {
				free = free && !q.Overlaps(p)
			}
		}
		if free {
			return p
		}
	}
	t.Fatal("no free /24 in 10.251.0.0/16")
	return netip.Prefix{}
}
