package docker

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The default network pool: 256 app environments of up to 253
// containers each.
const (
	DefaultNetworkPool = "10.200.0.0/16"
	DefaultNetworkSize = 24
	// MaxNetworkSize is the longest subnet prefix a network may get: 13
	// containers, a blue-green pair of a few small services.
	MaxNetworkSize = 28
)

// ErrPoolExhausted: every subnet of the network pool overlaps a network
// or a host route.
var ErrPoolExhausted = errors.New("network pool exhausted")

// SubnetPool is the IPv4 range the backend cuts its bridge networks'
// subnets from, one subnet of Bits per network.
type SubnetPool struct {
	Prefix netip.Prefix // the whole range, e.g. 10.200.0.0/16
	Bits   int          // prefix length of each network's subnet, e.g. 24
}

// NewSubnetPool checks a pool (e.g. "10.200.0.0/16") and the prefix
// length of its subnets (e.g. 24).
func NewSubnetPool(pool string, bits int) (SubnetPool, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(pool))
	if err != nil {
		return SubnetPool{}, fmt.Errorf("%q is not an IPv4 range such as %s", pool, DefaultNetworkPool)
	}
	if !p.Addr().Is4() {
		return SubnetPool{}, fmt.Errorf("%s is not IPv4: give an IPv4 range such as %s", p, DefaultNetworkPool)
	}
	if p != p.Masked() {
		return SubnetPool{}, fmt.Errorf("%s is not the start of a /%d: did you mean %s?", p, p.Bits(), p.Masked())
	}
	if bits < p.Bits() {
		return SubnetPool{}, fmt.Errorf("a /%d subnet does not fit in the /%d pool %s: give a size of %d to %d", bits, p.Bits(), p, p.Bits(), MaxNetworkSize)
	}
	if bits > MaxNetworkSize {
		return SubnetPool{}, fmt.Errorf("a /%d subnet is too small for a network (a /%d holds %d containers): give a size of %d to %d", bits, MaxNetworkSize, hosts(MaxNetworkSize), p.Bits(), MaxNetworkSize)
	}
	return SubnetPool{Prefix: p, Bits: bits}, nil
}

// String is the pool as the flags give it: "10.200.0.0/16 in /24s".
func (p SubnetPool) String() string { return fmt.Sprintf("%s in /%ds", p.Prefix, p.Bits) }

// Subnets is how many subnets the pool holds.
func (p SubnetPool) Subnets() uint64 { return 1 << (p.Bits - p.Prefix.Bits()) }

// taken is an IPv4 range in use on the host: a network's subnet or the
// destination of a host route.
type taken struct {
	prefix netip.Prefix
	route  bool   // a host route, not a network
	name   string // the network's name, or the route's device
}

func (u taken) String() string {
	if u.route {
		return u.prefix.String() + " dev " + u.name
	}
	return u.prefix.String() + " " + u.name
}

// next returns the lowest subnet of the pool that overlaps nothing in
// used, or ErrPoolExhausted, wrapped, saying what fills the pool and how
// to widen it.
func (p SubnetPool) next(used []taken) (netip.Prefix, error) {
	type span struct{ lo, hi uint64 } // inclusive
	var spans []span
	for _, u := range used {
		if u.prefix.Addr().Is4() && u.prefix.Overlaps(p.Prefix) {
			lo := uint64(u32(u.prefix.Masked().Addr()))
			spans = append(spans, span{lo, lo + 1<<(32-u.prefix.Bits()) - 1})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	step := uint64(1) << (32 - p.Bits)
	base := uint64(u32(p.Prefix.Addr()))
	end := base + 1<<(32-p.Prefix.Bits()) // exclusive
	at := base
	for _, s := range spans {
		if s.hi < at {
			continue
		}
		if s.lo >= at+step {
			break // the candidate at..at+step-1 ends before s
		}
		at = base + (s.hi+1-base+step-1)/step*step // the first subnet after s
		if at >= end {
			break
		}
	}
	if at+step > end {
		return netip.Prefix{}, p.exhausted(used)
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(at))
	return netip.PrefixFrom(netip.AddrFrom4(b), p.Bits), nil
}

// exhausted says what fills the pool and how to make room.
func (p SubnetPool) exhausted(used []taken) error {
	var nets, routes []taken
	for _, u := range used {
		if u.prefix.Addr().Is4() && u.prefix.Overlaps(p.Prefix) && !u.route {
			nets = append(nets, u)
		}
	}
	for _, u := range used {
		// A bridge network's own route (dev br-…) is that network again.
		if u.route && u.prefix.Addr().Is4() && u.prefix.Overlaps(p.Prefix) &&
			!slices.ContainsFunc(nets, func(n taken) bool { return n.prefix == u.prefix }) {
			routes = append(routes, u)
		}
	}
	byAddr := func(a, b taken) int { return a.prefix.Addr().Compare(b.prefix.Addr()) }
	slices.SortFunc(nets, byAddr)
	slices.SortFunc(routes, byAddr)
	var why []string
	if len(nets) > 0 {
		why = append(why, plural(len(nets), "Docker network")+examples(nets))
	}
	if len(routes) > 0 {
		why = append(why, plural(len(routes), "host route")+examples(routes))
	}
	fixes := []string{}
	if p.Prefix.Bits() > 0 {
		wider := netip.PrefixFrom(p.Prefix.Addr(), p.Prefix.Bits()-1).Masked()
		fixes = append(fixes, fmt.Sprintf("widen it (berth server --network-pool %s: %d subnets)", wider, 2*p.Subnets()))
	}
	if p.Bits < MaxNetworkSize {
		fixes = append(fixes, fmt.Sprintf("cut it finer (--network-size %d: %d subnets of %d containers)", p.Bits+1, 2*p.Subnets(), hosts(p.Bits+1)))
	}
	fixes = append(fixes, "remove the networks of app environments no longer used (docker network rm)")
	return fmt.Errorf("%w: no free /%d left in %s: its %d subnets overlap %s; %s",
		ErrPoolExhausted, p.Bits, p.Prefix, p.Subnets(), strings.Join(why, " and "), strings.Join(fixes, ", or "))
}

// examples names the first few of us: " (10.200.0.0/24 berth-a, …)".
func examples(us []taken) string {
	const show = 3
	var s []string
	for i, u := range us {
		if i == show {
			s = append(s, "…")
			break
		}
		s = append(s, u.String())
	}
	return " (" + strings.Join(s, ", ") + ")"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// hosts is how many containers a /bits subnet holds: its addresses less
// the network and broadcast addresses and the gateway.
func hosts(bits int) int { return 1<<(32-bits) - 3 }

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
