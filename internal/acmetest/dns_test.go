package acmetest

import (
	"context"
	"net"
	"slices"
	"testing"
)

func TestDNS_EveryNameIsLoopbackOverUDPAndTCP(t *testing.T) {
	addr := startDNS(t)
	for _, network := range []string{"udp", "tcp"} {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
		got, err := r.LookupHost(t.Context(), "acme.berth.test")
		if err != nil || !slices.Equal(got, []string{"127.0.0.1"}) {
			t.Fatalf("%s: %v %v", network, got, err)
		}
	}
}
