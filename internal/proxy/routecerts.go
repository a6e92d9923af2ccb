package proxy

import (
	"slices"
	"strings"
)

// Certs is the certificate store as the proxy sees it (Options.Certs; the
// daemon gives it a certs.Store): it checks the certificate files a route
// names before the route is set, and is told every route's hosts and
// files after they change, to keep its own copy. Both methods are called
// with the proxy's table lock held, in the order of the swaps: they must
// not call the Proxy.
type Certs interface {
	// CheckCert returns an error, saying what to fix, when the files
	// certFile and keyFile cannot serve every host of hosts (both empty:
	// the route names none, which is fine). SetRouteOptions calls it
	// before the swap and refuses the route with its error.
	CheckCert(hosts []string, certFile, keyFile string) error
	// SetRoutes is given every route, sorted by key, after each swap
	// that may change their hosts or files (SetRouteOptions,
	// RemoveRoute).
	SetRoutes(routes []RoutedHosts)
}

// RoutedHosts are a route's hosts and the certificate files it names,
// as the proxy tells them to Certs.
type RoutedHosts struct {
	Key RouteKey
	// Hosts are normalised: lower case, no port, no trailing dot.
	Hosts []string
	// TLSCert and TLSKey are RouteOptions.TLSCert and TLSKey.
	TLSCert, TLSKey string
}

// tellCerts gives p.certs the routes of t, which was just stored; p.mu
// is held.
func (p *Proxy) tellCerts(t *table) {
	if p.certs == nil {
		return
	}
	rs := make([]RoutedHosts, 0, len(t.byKey))
	for _, rt := range t.byKey {
		rs = append(rs, RoutedHosts{Key: rt.key, Hosts: slices.Clone(rt.hosts), TLSCert: rt.raw.TLSCert, TLSKey: rt.raw.TLSKey})
	}
	slices.SortFunc(rs, func(a, b RoutedHosts) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	p.certs.SetRoutes(rs)
}
