package docker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// routesFile is the kernel's IPv4 routing table (the main table, the one
// Docker checks a subnet it picks itself against).
const routesFile = "/proc/net/route"

// hostRoutes reads the host's IPv4 routes but the default route. No
// table (not Linux) is no routes.
func hostRoutes() ([]taken, error) {
	f, err := os.Open(routesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseRoutes(f)
}

// parseRoutes reads /proc/net/route: a header line, then per route the
// device, the destination, the gateway, the flags, three counters and
// the mask, addresses in hex in the host's byte order.
func parseRoutes(r io.Reader) ([]taken, error) {
	var out []taken
	sc := bufio.NewScanner(r)
	for line := 0; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if line == 0 || len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("%s line %d: %d fields, want 8 or more", routesFile, line+1, len(f))
		}
		dst, err1 := hexAddr(f[1])
		mask, err2 := hexAddr(f[7])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", routesFile, line+1, err)
		}
		bits := maskBits(u32(mask))
		if bits <= 0 {
			continue // the default route (or a mask that is no prefix)
		}
		out = append(out, taken{prefix: netip.PrefixFrom(dst, bits).Masked(), route: true, name: f[0]})
	}
	return out, sc.Err()
}

// hexAddr reads an address as the kernel prints it: a 32-bit number in
// hex whose bytes in memory (the host's order) are the address.
func hexAddr(s string) (netip.Addr, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q: %w", s, err)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), nil
}

// maskBits is the prefix length of a netmask, or -1 when its ones are
// not contiguous.
func maskBits(m uint32) int {
	ones := 0
	for m&(1<<31) != 0 {
		ones++
		m <<= 1
	}
	if m != 0 {
		return -1
	}
	return ones
}
