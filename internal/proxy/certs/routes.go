package certs

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Route is what the store knows of one route of the proxy: its hosts and
// the certificate it names for them, if any.
type Route struct {
	// Name identifies the route (the proxy's app/env/service); when two
	// routes name a certificate for the same host, the one whose Name
	// sorts last serves it.
	Name string
	// Hosts are the route's host names, lower case with no port.
	Hosts []string
	// CertFile and KeyFile are the route's own certificate, served for
	// Hosts whatever else matches them; both empty: none.
	CertFile, KeyFile string
}

func (r Route) equal(o Route) bool {
	return r.Name == o.Name && slices.Equal(r.Hosts, o.Hosts) && r.CertFile == o.CertFile && r.KeyFile == o.KeyFile
}

// SetRoutes replaces the store's copy of the routes with routes: the
// hosts ACME may get certificates for, and the routes' own certificate
// files, loaded now. Call it after every change of the routes, in the
// order of the changes. A file that fails to load keeps the previous
// certificates, is logged, and is tried again by Run; check a route's
// files with CheckCert before routing it.
func (s *Store) SetRoutes(routes []Route) {
	rs := make([]Route, len(routes))
	for i, r := range routes {
		r.Hosts = slices.Clone(r.Hosts)
		for j, h := range r.Hosts {
			r.Hosts[j] = normalize(h)
		}
		rs[i] = r
	}
	slices.SortStableFunc(rs, func(a, b Route) int { return strings.Compare(a.Name, b.Name) })

	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.EqualFunc(rs, s.routes, Route.equal) {
		return // latest wins, and it is what was last applied
	}
	certsChanged := !slices.EqualFunc(withCerts(rs), withCerts(s.routes), Route.equal)
	s.routes = rs
	routed := map[string]bool{}
	for _, r := range rs {
		for _, h := range r.Hosts {
			routed[h] = true
		}
	}
	hostsChanged := !maps.Equal(routed, *s.routedHosts.Load())
	s.routedHosts.Store(&routed)
	if certsChanged {
		s.swapLocked("load the routes' certificates")
	}
	if hostsChanged || certsChanged {
		s.pokeACME()
	}
}

// withCerts returns the routes of rs that name a certificate.
func withCerts(rs []Route) []Route {
	return slices.DeleteFunc(slices.Clone(rs), func(r Route) bool { return r.CertFile == "" && r.KeyFile == "" })
}

// CheckCert returns an error, saying what to fix, when the files cert
// and key cannot serve every host of hosts: one of them is missing, they
// do not load as a pair, or the certificate does not cover a host. Both
// empty (no certificate of its own) is fine.
func (s *Store) CheckCert(hosts []string, cert, key string) error {
	if cert == "" && key == "" {
		return nil
	}
	if cert == "" || key == "" {
		return errors.New("a TLS certificate needs both a cert and a key file")
	}
	pair, err := loadPair(cert, key)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if err := pair.Leaf.VerifyHostname(normalize(h)); err != nil {
			return fmt.Errorf("certificate %s does not cover host %s (it names %s)", cert, h, strings.Join(pair.Leaf.DNSNames, ", "))
		}
	}
	return nil
}

// routed reports whether a route has host (normalised).
func (s *Store) routed(host string) bool { return (*s.routedHosts.Load())[host] }

// routeCerts counts the certificate pairs of the routes; s.mu is held.
func (s *Store) routeCerts() int {
	n := 0
	for _, r := range s.routes {
		if r.CertFile != "" {
			n++
		}
	}
	return n
}
