package enginetest_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// Tests above the engine dial the fake's addresses (health checks, the
// proxy), so every address it hands out is on loopback: a wrong one
// must never route off the machine.
func TestFake_AddressesStayOnLoopback(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("app:1", "")
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := f.EnsureNetwork(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "x", Image: "app:1", Network: "a",
		Networks: []engine.NetworkAttachment{{Name: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, a := range c.Addresses {
		addrs = append(addrs, a)
	}
	nodes, err := f.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		addrs = append(addrs, n.Addr)
	}
	if len(addrs) < 3 {
		t.Fatalf("addresses %v: want the container's two and the nodes'", addrs)
	}
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.IsLoopback() {
			t.Errorf("address %q is not on loopback", a)
		}
	}
}
