package spec

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultHost is the host berth routes a service at when the Compose file
// shows it serves HTTP but names no host: SERVICE.APP.localhost in the
// default environment, SERVICE.ENV.APP.localhost in another. Names under
// .localhost resolve to the machine itself, so the service answers at
// once on the server's HTTP port.
func DefaultHost(service, app, env string) string {
	h := hostLabel(service) + "."
	if env != "" && env != DefaultEnv {
		h += hostLabel(env) + "."
	}
	return h + hostLabel(app) + ".localhost"
}

// hostLabel turns a Compose name into a DNS label: lowercase, other
// characters than a-z, 0-9 and '-' made '-', at most 63 characters.
func hostLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9') {
			b[i] = '-'
		}
	}
	l := strings.Trim(string(b), "-")
	if len(l) > 63 {
		l = strings.TrimRight(l[:63], "-")
	}
	if l == "" {
		return "service"
	}
	return l
}

// resolveHostClashes keeps one service per host and path when routes
// were imported or defaulted: an imported host another service routes
// already is refused with the setting it came from (nginx-proxy and
// Traefik balance the services that share a host, berth does not); a
// default host that is taken is dropped with a note.
func resolveHostClashes(c *collector, app *App) {
	owner := map[[2]string]string{}
	pairs := func(s *Service) [][2]string {
		paths := s.Paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		var out [][2]string
		for _, h := range s.Hosts {
			for _, p := range paths {
				out = append(out, [2]string{h, NormalizePath(p)})
			}
		}
		return out
	}
	imported := func(s *Service) bool { return s.Intent != nil && s.Intent.Imported != "" && !s.Intent.DefaultHosts }
	defaulted := func(s *Service) bool { return s.Intent != nil && s.Intent.DefaultHosts }
	for i := range app.Services {
		if s := &app.Services[i]; !imported(s) && !defaulted(s) {
			for _, p := range pairs(s) {
				owner[p] = s.Name
			}
		}
	}
	for _, pass := range []func(*Service) bool{imported, defaulted} {
		for i := range app.Services {
			s := &app.Services[i]
			if !pass(s) {
				continue
			}
			ps := pairs(s)
			clash := -1
			for j, p := range ps {
				if _, taken := owner[p]; taken {
					clash = j
					break
				}
			}
			if clash < 0 {
				for _, p := range ps {
					owner[p] = s.Name
				}
				continue
			}
			p, other := ps[clash], owner[ps[clash]]
			if imported(s) {
				c.add(s.Name, s.Intent.field, fmt.Sprintf("%s is also routed to service %s; nginx-proxy and Traefik balance the services that share a host, berth routes a host and path to one service: run one service with more deploy.replicas, or route them at different hosts or paths", quote(p[0]+strings.TrimSuffix(p[1], "/")), quote(other)))
			} else {
				s.Intent.Notes = append(s.Intent.Notes, fmt.Sprintf("not routed: its default host %s is routed to %s; set x-berth.hosts", p[0], other))
			}
			s.Hosts, s.Paths, s.StripPrefix, s.RedirectHTTPS = nil, nil, false, false
			s.Intent.DefaultHosts = false
			s.Intent.Reason = ""
		}
	}
}

// withDefaultHosts returns the app with the default hosts of env in
// place of the default environment's; a itself when nothing changes.
func (a *App) withDefaultHosts(env string) *App {
	if env == "" || env == DefaultEnv {
		return a
	}
	var out *App
	for i, s := range a.Services {
		if s.Intent == nil || !s.Intent.DefaultHosts {
			continue
		}
		if out == nil {
			cp := *a
			cp.Services = slices.Clone(a.Services)
			out = &cp
		}
		out.Services[i].Hosts = []string{DefaultHost(s.Name, a.Name, env)}
	}
	if out == nil {
		return a
	}
	out.Notes = routeNotes(out)
	return out
}

// overrideHosts records that an environment's hosts replace the
// service's default host.
func (s *Service) overrideHosts() {
	if s.Intent != nil && s.Intent.DefaultHosts {
		in := *s.Intent
		in.DefaultHosts = false
		s.Intent = &in
	}
}
