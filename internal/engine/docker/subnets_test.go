package docker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func mustPool(t *testing.T, pool string, bits int) SubnetPool {
	t.Helper()
	p, err := NewSubnetPool(pool, bits)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func nets(prefixes ...string) []taken {
	var out []taken
	for i, p := range prefixes {
		out = append(out, taken{prefix: netip.MustParsePrefix(p), name: fmt.Sprintf("net%d", i)})
	}
	return out
}

func routes(prefixes ...string) []taken {
	out := nets(prefixes...)
	for i := range out {
		out[i].route, out[i].name = true, "wg0"
	}
	return out
}

func TestSubnetPool_Next(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pool      string
		bits      int
		nets, rts []string
		want      string
	}{
		{name: "empty host", pool: "10.200.0.0/16", bits: 24, want: "10.200.0.0/24"},
		{name: "after the used ones", pool: "10.200.0.0/16", bits: 24, nets: []string{"10.200.0.0/24", "10.200.1.0/24"}, want: "10.200.2.0/24"},
		{name: "a hole is filled first", pool: "10.200.0.0/16", bits: 24, nets: []string{"10.200.0.0/24", "10.200.2.0/24"}, want: "10.200.1.0/24"},
		{name: "unsorted", pool: "10.200.0.0/16", bits: 24, nets: []string{"10.200.2.0/24", "10.200.0.0/24", "10.200.1.0/24"}, want: "10.200.3.0/24"},
		{name: "outside the pool is ignored", pool: "10.200.0.0/16", bits: 24, nets: []string{"172.17.0.0/16", "10.199.0.0/16", "10.201.0.0/24"}, want: "10.200.0.0/24"},
		{name: "a smaller network blocks its whole subnet", pool: "10.200.0.0/16", bits: 24, nets: []string{"10.200.0.64/26"}, want: "10.200.1.0/24"},
		{name: "a larger network blocks every subnet in it", pool: "10.200.0.0/16", bits: 24, nets: []string{"10.200.0.0/20"}, want: "10.200.16.0/24"},
		{name: "nested and overlapping", pool: "10.200.0.0/16", bits: 24, nets: []string{"10.200.0.0/22", "10.200.1.0/24", "10.200.3.128/25", "10.200.4.0/24"}, want: "10.200.5.0/24"},
		{name: "host route", pool: "10.200.0.0/16", bits: 24, rts: []string{"10.200.0.0/23"}, want: "10.200.2.0/24"},
		{name: "route and networks", pool: "10.200.0.0/16", bits: 24, nets: []string{"10.200.0.0/24"}, rts: []string{"10.200.1.0/24"}, want: "10.200.2.0/24"},
		{name: "a route beside the pool", pool: "10.200.0.0/16", bits: 24, rts: []string{"10.0.0.0/9"}, want: "10.200.0.0/24"},
		{name: "small subnets", pool: "10.200.0.0/16", bits: 26, nets: []string{"10.200.0.0/26", "10.200.0.64/26"}, want: "10.200.0.128/26"},
		{name: "the last one", pool: "10.200.0.0/22", bits: 24, nets: []string{"10.200.0.0/24", "10.200.1.0/24", "10.200.2.0/24"}, want: "10.200.3.0/24"},
		{name: "pool of one", pool: "192.168.77.0/24", bits: 24, want: "192.168.77.0/24"},
		{name: "IPv6 networks are ignored", pool: "10.200.0.0/16", bits: 24, nets: []string{"fd00::/8"}, want: "10.200.0.0/24"},
		{name: "the whole address space", pool: "0.0.0.0/0", bits: 8, nets: []string{"0.0.0.0/8", "1.0.0.0/8"}, want: "2.0.0.0/8"},
		{name: "the top of the address space", pool: "255.255.255.0/24", bits: 28, nets: []string{"255.255.255.0/25"}, want: "255.255.255.128/28"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPool(t, tc.pool, tc.bits)
			got, err := p.next(append(nets(tc.nets...), routes(tc.rts...)...))
			if err != nil || got.String() != tc.want {
				t.Fatalf("next = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// next agrees with a brute-force search on random hosts.
func TestSubnetPool_NextMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := mustPool(t, "10.200.0.0/20", 26)
	for round := range 2000 {
		var used []taken
		for range rng.IntN(40) {
			bits := 18 + rng.IntN(13) // /18 (wider than the pool) to /30
			a := netip.AddrFrom4([4]byte{10, 200, byte(rng.IntN(20)), byte(rng.IntN(256))})
			used = append(used, taken{prefix: netip.PrefixFrom(a, bits).Masked(), route: rng.IntN(4) == 0, name: "x"})
		}
		want := netip.Prefix{}
		for i := range p.Subnets() {
			c := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i / 4), byte(i % 4 * 64)}), 26)
			if !slices.ContainsFunc(used, func(u taken) bool { return u.prefix.Overlaps(c) }) {
				want = c
				break
			}
		}
		got, err := p.next(used)
		if want.IsValid() != (err == nil) || got != want {
			t.Fatalf("round %d: next = %s, %v; brute force %s; used %v", round, got, err, want, used)
		}
	}
}

// Allocating one by one fills the pool without overlaps and in order.
func TestSubnetPool_NextFillsThePool(t *testing.T) {
	p := mustPool(t, "10.200.0.0/16", 26)
	used := nets("10.200.7.0/24") // four /26 already taken
	for i := range int(p.Subnets()) - 4 {
		got, err := p.next(used)
		if err != nil {
			t.Fatalf("subnet %d: %v", i, err)
		}
		for _, u := range used {
			if u.prefix.Overlaps(got) {
				t.Fatalf("subnet %d: %s overlaps %s", i, got, u)
			}
		}
		used = append(used, taken{prefix: got, name: "n"})
	}
	if _, err := p.next(used); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("after %d subnets: %v, want ErrPoolExhausted", len(used), err)
	}
}

func TestSubnetPool_Exhausted(t *testing.T) {
	p := mustPool(t, "10.200.0.0/22", 24)
	used := append(nets("10.200.0.0/24", "10.200.1.0/24", "10.200.2.0/24", "10.200.3.0/24", "172.17.0.0/16"), routes("10.200.2.0/23", "10.200.1.0/24")...)
	_, err := p.next(used)
	if !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("want ErrPoolExhausted, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"no free /24 left in 10.200.0.0/22",
		"its 4 subnets overlap 4 Docker networks (10.200.0.0/24 net0, 10.200.1.0/24 net1, 10.200.2.0/24 net2, …)",
		"1 host route (10.200.2.0/23 dev wg0)", // not the bridge's own route

		"berth server --network-pool 10.200.0.0/21: 8 subnets",
		"--network-size 25: 8 subnets of 125 containers",
		"docker network rm",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "172.17") {
		t.Errorf("message names a network outside the pool:\n%s", msg)
	}

	// A route over the whole pool (a VPN's) leaves nothing.
	_, err = p.next(routes("10.0.0.0/8"))
	if !errors.Is(err, ErrPoolExhausted) || !strings.Contains(err.Error(), "overlap 1 host route (10.0.0.0/8 dev wg0)") {
		t.Fatalf("pool under a route: %v", err)
	}

	// A pool of one subnet of the longest size cannot be cut finer.
	p = mustPool(t, "10.200.0.0/28", 28)
	_, err = p.next(nets("10.200.0.0/28"))
	if !errors.Is(err, ErrPoolExhausted) || strings.Contains(err.Error(), "--network-size") || !strings.Contains(err.Error(), "--network-pool 10.200.0.0/27") {
		t.Fatalf("full /28: %v", err)
	}
}

func TestNewSubnetPool(t *testing.T) {
	p, err := NewSubnetPool(DefaultNetworkPool, DefaultNetworkSize)
	if err != nil || p.Subnets() < 200 || p.String() != "10.200.0.0/16 in /24s" {
		t.Fatalf("default pool: %v %v (%d subnets)", p, err, p.Subnets())
	}
	for _, tc := range []struct {
		pool string
		bits int
		want string
	}{
		{"10.200.0.0", 24, "not an IPv4 range"},
		{"banana", 24, "not an IPv4 range"},
		{"fd00::/48", 64, "not IPv4"},
		{"10.200.1.0/16", 24, "did you mean 10.200.0.0/16?"},
		{"10.200.0.0/16", 12, "does not fit in the /16 pool"},
		{"10.200.0.0/16", 30, "too small"},
		{"10.200.0.0/16", 40, "too small"},
	} {
		if _, err := NewSubnetPool(tc.pool, tc.bits); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSubnetPool(%q, %d) = %v, want an error with %q", tc.pool, tc.bits, err, tc.want)
		}
	}
}

// routeLine is a /proc/net/route line as the kernel prints it on this
// machine's byte order.
func routeLine(dev, dst string, bits int) string {
	a := netip.MustParseAddr(dst).As4()
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], ^uint32(0)<<(32-bits))
	if bits == 0 {
		m = [4]byte{}
	}
	return fmt.Sprintf("%s\t%08X\t00000000\t0001\t0\t0\t0\t%08X\t0\t0\t0",
		dev, binary.NativeEndian.Uint32(a[:]), binary.NativeEndian.Uint32(m[:]))
}

func TestParseRoutes(t *testing.T) {
	table := strings.Join([]string{
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
		routeLine("eth0", "0.0.0.0", 0),
		routeLine("docker0", "172.17.0.0", 16),
		routeLine("eth0", "192.0.2.0", 24),
		routeLine("wg0", "10.200.4.0", 22),
		"",
	}, "\n")
	got, err := parseRoutes(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, r := range got {
		s = append(s, r.String())
	}
	if want := "172.17.0.0/16 dev docker0, 192.0.2.0/24 dev eth0, 10.200.4.0/22 dev wg0"; strings.Join(s, ", ") != want {
		t.Fatalf("routes %q, want %q", strings.Join(s, ", "), want)
	}
	if _, err := parseRoutes(strings.NewReader("Iface\tDestination\neth0\tZZ\t0\t0\t0\t0\t0\t0\n")); err == nil {
		t.Fatal("a garbled table parsed")
	}
}

// A real kernel's table, when this host has one, parses.
func TestHostRoutes(t *testing.T) {
	if _, err := hostRoutes(); err != nil {
		t.Fatal(err)
	}
}

func TestMaskBits(t *testing.T) {
	for m, want := range map[uint32]int{0: 0, 0xffffffff: 32, 0xffffff00: 24, 0xfffffff0: 28, 0xff00ff00: -1, 0x00ffffff: -1} {
		if got := maskBits(m); got != want {
			t.Errorf("maskBits(%08x) = %d, want %d", m, got, want)
		}
	}
}
