package daemon

import (
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/certs"
)

// routeCerts gives the proxy's routes to the certificate store: the
// proxy's Certs, on a certs.Store that knows nothing of the proxy.
type routeCerts struct{ store *certs.Store }

var _ proxy.Certs = routeCerts{}

// CheckCert is the store's check of a route's certificate files.
func (r routeCerts) CheckCert(hosts []string, cert, key string) error {
	return r.store.CheckCert(hosts, cert, key)
}

// SetRoutes hands the store the proxy's routes as its own type.
func (r routeCerts) SetRoutes(routes []proxy.RoutedHosts) {
	rs := make([]certs.Route, len(routes))
	for i, rt := range routes {
		rs[i] = certs.Route{Name: rt.Key.String(), Hosts: rt.Hosts, CertFile: rt.TLSCert, KeyFile: rt.TLSKey}
	}
	r.store.SetRoutes(rs)
}

// proxyCerts is the proxy's view of store: nil when there is none (no
// HTTPS listener).
func proxyCerts(store *certs.Store) proxy.Certs {
	if store == nil {
		return nil
	}
	return routeCerts{store}
}
