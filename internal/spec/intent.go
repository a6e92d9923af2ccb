package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// RouteIntent is what berth decided about routing a service that x-berth
// does not fully route, from the Compose keys it has (ports:, expose:,
// nginx-proxy's VIRTUAL_HOST, Traefik's labels). It is for the deploy
// output only and not stored.
type RouteIntent struct {
	// Reason says which container port berth routes and why, e.g. "HTTP
	// on container port 80 (published 8080:80)", or for an imported
	// route "on port 3000"; empty when berth did not route the service.
	Reason string
	// Imported names the settings the route was imported from, e.g.
	// "VIRTUAL_HOST/VIRTUAL_PORT"; empty when berth inferred it.
	Imported string
	// DefaultHosts says the service's hosts are berth's default,
	// SERVICE.APP.localhost (SERVICE.ENV.APP.localhost outside the
	// production environment).
	DefaultHosts bool
	// Notes are the rest of what berth tells about the service's routing.
	Notes []string
	// field is the setting imported hosts came from, for errors.
	field string
}

// decideRoutes routes the services whose Compose keys show how (see
// decideRoute), fills in their Intent and the app's Notes, and returns
// the warnings about what it could not import. Problems that must stop
// the deploy go to c.
func decideRoutes(c *collector, app *App, services types.Services) []string {
	if checkAppName(app.Name) != "" {
		return nil // the name is reported; no host can be made from it
	}
	envHosts := map[string]bool{}
	for _, es := range app.Environments {
		for svc := range es.Hosts {
			envHosts[svc] = true
		}
	}
	var warnings []string
	for i := range app.Services {
		s := &app.Services[i]
		sc, ok := services[s.Name]
		if !ok {
			continue
		}
		warn := func(label, msg string) {
			where := labelsKey(sc, label)
			e := &Error{Service: s.Name, Field: where + "." + label, Msg: msg}
			if c.fileFor != nil {
				e.File = c.fileFor(s.Name, where)
			}
			warnings = append(warnings, e.Error()) // in the shape of the key table's
		}
		s.Intent = decideRoute(c, app.Name, s, sc, warn, envHosts[s.Name])
	}
	resolveHostClashes(c, app)
	app.Notes = routeNotes(app)
	slices.Sort(warnings)
	return warnings
}

// labelsKey names the key that sets the Traefik label (or the labels
// under the prefix label, "traefik.http.routers" or "...middlewares.x.*")
// a warning is about: deploy.labels when they set it (they win, as
// traefikLabels reads them), else labels.
func labelsKey(sc types.ServiceConfig, label string) string {
	if sc.Deploy != nil {
		prefix := strings.TrimSuffix(label, "*")
		for k := range sc.Deploy.Labels {
			if k == label || strings.HasPrefix(k, prefix) {
				return "deploy.labels"
			}
		}
	}
	return "labels"
}

// decideRoute decides how to route one service, setting its Port, Hosts,
// Paths, StripPrefix and RedirectHTTPS; nil when there is nothing to say.
// The rules, in order:
//   - x-berth.port and x-berth.hosts, when the file sets either, win: the
//     other settings are not imported. x-berth.port alone is routed at
//     the default host; x-berth.hosts alone takes the port of ports: and
//     expose: when pickHTTPPort can tell it; hosts: [] routes nothing.
//   - a stateful service, one off the app's network (network_mode host,
//     none, service: or container:) or with traefik.enable=false is not
//     routed.
//   - Traefik's router labels (v2/v3, else v1's traefik.frontend.rule),
//     else nginx-proxy's VIRTUAL_HOST.
//   - the HTTP port of ports: and expose: (pickHTTPPort), at the default
//     host.
//
// envHosts says x-berth.environments names the service's hosts, which
// then replace the default host.
func decideRoute(c *collector, app string, s *Service, sc types.ServiceConfig, warn func(label, msg string), envHosts bool) *RouteIntent {
	in := &RouteIntent{}
	result := func() *RouteIntent {
		if in.Reason == "" && len(in.Notes) == 0 {
			return nil
		}
		return in
	}
	labels := traefikLabels(sc)
	var others []string
	if hasNginxProxy(sc) {
		others = append(others, "VIRTUAL_HOST")
	}
	for k := range labels {
		if strings.HasPrefix(k, "traefik.http.") || k == "traefik.frontend.rule" {
			others = append(others, "Traefik labels")
			break
		}
	}
	cands := candidatePorts(sc)
	defaultHosts := func() {
		if !envHosts {
			s.Hosts = []string{DefaultHost(s.Name, app, "")}
			in.DefaultHosts = true
		}
	}

	xb, _ := sc.Extensions[ExtensionKey].(map[string]any)
	_, noHosts := xb["hosts"] // hosts: [] says: do not route
	noHosts = noHosts && len(s.Hosts) == 0
	if s.Port != 0 || len(s.Hosts) > 0 || noHosts {
		switch {
		case noHosts && (len(cands) > 0 || len(others) > 0):
			in.Notes = append(in.Notes, "not routed: x-berth.hosts is empty")
		case len(others) > 0:
			in.Notes = append(in.Notes, fmt.Sprintf("x-berth routes it, so its %s settings were not imported (x-berth wins)", strings.Join(others, " and ")))
		}
		switch {
		case noHosts:
		case s.Port != 0 && len(s.Hosts) == 0:
			in.Reason = fmt.Sprintf("HTTP on container port %d (x-berth.port)", s.Port)
			defaultHosts()
		case s.Port == 0:
			if pick, why, ok := pickHTTPPort(cands); ok {
				s.Port = pick.port
				in.Reason = portReason(pick, why)
			}
			// Else validation asks for x-berth.port.
		}
		return result()
	}
	if s.Stateful {
		if len(others) > 0 {
			in.Notes = append(in.Notes, fmt.Sprintf("not routed: it is x-berth.stateful, so its %s settings were not imported", strings.Join(others, " and ")))
		}
		return result()
	}
	if nm := sc.NetworkMode; nm == "host" || nm == "none" || strings.HasPrefix(nm, "service:") || strings.HasPrefix(nm, "container:") {
		if len(cands) > 0 || len(others) > 0 {
			in.Notes = append(in.Notes, fmt.Sprintf("not routed: with network_mode: %s it is not on the app's network, where berth's proxy reaches containers", nm))
		}
		return result()
	}
	if traefikDisabled(labels) {
		if len(cands) > 0 || len(others) > 0 {
			in.Notes = append(in.Notes, "not routed: traefik.enable=false")
		}
		return result()
	}

	imp := importTraefik(s.Name, labels, warn)
	if imp == nil {
		imp = importTraefikV1(labels, warn)
	}
	if imp != nil && !imp.failed {
		if hasNginxProxy(sc) {
			in.Notes = append(in.Notes, "it has both Traefik labels and VIRTUAL_HOST: the Traefik labels were imported, VIRTUAL_HOST was not")
		}
	} else if nr := importNginxProxy(c, s.Name, sc); nr != nil {
		if imp != nil {
			in.Notes = append(in.Notes, imp.notes...)
		}
		imp = nr
	}
	if imp != nil {
		in.Notes = append(in.Notes, imp.notes...)
		if imp.failed {
			return result() // the errors and warnings say why
		}
		port, why := imp.port, ""
		if port == 0 {
			pick, pwhy, ok := pickHTTPPort(cands)
			switch {
			case len(cands) == 1:
				port, why = cands[0].port, "the one port it exposes"
			case strings.HasPrefix(imp.source, "VIRTUAL_HOST"):
				port, why = 80, "nginx-proxy's default without VIRTUAL_PORT"
			case ok && pwhy != "":
				port, why = pick.port, pwhy+"; "+pick.describe()
			case ok:
				port, why = pick.port, pick.describe()
			default:
				msg := "the Traefik labels name no port (traefik.http.services.NAME.loadbalancer.server.port)"
				if strings.HasPrefix(imp.source, "Traefik v1") {
					msg = "the Traefik labels name no port (traefik.port)"
				}
				if pwhy != "" {
					msg += " and " + pwhy
				}
				in.Notes = append(in.Notes, "not routed: "+msg+"; set x-berth.port")
				return result()
			}
		}
		s.Port = port
		s.Paths, s.StripPrefix, s.RedirectHTTPS = imp.paths, imp.stripPrefix, imp.redirect
		in.Notes = append(in.Notes, importHealth(s, imp.health, xb)...)
		if len(imp.hosts) > 0 {
			s.Hosts = imp.hosts
		} else {
			defaultHosts()
		}
		in.Imported, in.field = imp.source, imp.field
		if imp.portFrom != "" && !strings.Contains(imp.source, imp.portFrom) {
			in.Imported += " and " + imp.portFrom
		}
		in.Reason = fmt.Sprintf("on port %d", port)
		if why != "" {
			in.Reason += " (" + why + ")"
		}
		return result()
	}

	if len(cands) == 0 {
		if v, ok := labels["traefik.enable"]; ok && v == "true" {
			in.Notes = append(in.Notes, "not routed: traefik.enable=true, but it publishes and exposes no port; set x-berth.port (and x-berth.hosts)")
		}
		return result()
	}
	pick, why, ok := pickHTTPPort(cands)
	if !ok {
		if strings.HasSuffix(why, "not HTTP") {
			in.Notes = append(in.Notes, fmt.Sprintf("not routed: %s; the app's services reach it by its name, %s (x-berth.port and x-berth.hosts route it anyway)", why, s.Name))
		} else {
			in.Notes = append(in.Notes, fmt.Sprintf("not routed: %s; set x-berth.port to the HTTP one (or mark it app_protocol: http in ports:) to route it at %s, and x-berth.hosts for your domain", why, DefaultHost(s.Name, app, "")))
		}
		return result()
	}
	s.Port = pick.port
	in.Reason = portReason(pick, why)
	defaultHosts()
	return result()
}

// importHealth takes the imported health check settings that
// x-berth.healthcheck does not set, and returns the notes that say what
// it took. An interval berth's health check cannot run with (below
// MinHealthInterval, or not shorter than the deadline, which would
// refuse the file for an x-berth key it does not have) is not taken.
func importHealth(s *Service, h Healthcheck, xb map[string]any) []string {
	set, _ := xb["healthcheck"].(map[string]any)
	var took, notes []string
	if _, ok := set["path"]; !ok && h.Path != "" {
		s.Healthcheck.Path = h.Path
		took = append(took, "path "+h.Path)
	}
	if _, ok := set["interval"]; !ok && h.Interval > 0 {
		if h.Interval.D() < MinHealthInterval || h.Interval >= s.Healthcheck.Deadline {
			notes = append(notes, fmt.Sprintf("the Traefik health check interval %s was not imported: berth's must be at least %s and shorter than x-berth.healthcheck.deadline (%s); it checks every %s", h.Interval.D(), MinHealthInterval, s.Healthcheck.Deadline.D(), s.Healthcheck.Interval.D()))
		} else {
			s.Healthcheck.Interval = h.Interval
			took = append(took, "interval "+h.Interval.D().String())
		}
	}
	if _, ok := set["timeout"]; !ok && h.Timeout > 0 {
		s.Healthcheck.Timeout = h.Timeout
		took = append(took, "timeout "+h.Timeout.D().String())
	}
	if len(took) > 0 {
		notes = append([]string{"health check " + strings.Join(took, ", ") + " imported from the Traefik load balancer's healthcheck labels"}, notes...)
	}
	return notes
}

// portReason says which port berth routes and why, for a note.
func portReason(p portCandidate, why string) string {
	parts := []string{}
	if why != "" {
		parts = append(parts, why)
	}
	parts = append(parts, p.describe())
	return fmt.Sprintf("HTTP on container port %d (%s)", p.port, strings.Join(parts, "; "))
}

// routeNotes renders what berth decided about the services' routes, one
// line per note, e.g. "web: HTTP on container port 80 (published
// 8080:80) → routed at web.shop.localhost; add x-berth.hosts for your
// domain".
func routeNotes(app *App) []string {
	var out []string
	for _, s := range app.Services {
		in := s.Intent
		if in == nil {
			continue
		}
		if in.Reason != "" {
			at := routeTargets(s)
			switch {
			case in.Imported != "":
				out = append(out, fmt.Sprintf("%s: routed at %s %s, imported from %s", s.Name, at, in.Reason, in.Imported))
			case len(s.Hosts) == 0:
				out = append(out, fmt.Sprintf("%s: %s → routed only in the environments whose x-berth.environments hosts name it", s.Name, in.Reason))
			case in.DefaultHosts:
				out = append(out, fmt.Sprintf("%s: %s → routed at %s%s; add x-berth.hosts for your domain", s.Name, in.Reason, at, publishedOn(s)))
			default:
				out = append(out, fmt.Sprintf("%s: %s → routed at %s%s", s.Name, in.Reason, at, publishedOn(s)))
			}
		}
		for _, n := range in.Notes {
			out = append(out, s.Name+": "+n)
		}
	}
	return out
}

// publishedOn names the host ports where the routed container port is
// published as well (" and on :8080"), "" when it is not.
func publishedOn(s Service) string {
	var at []string
	for _, p := range s.Ports {
		if p.Target != s.Port || p.Protocol != "tcp" || p.Published == 0 {
			continue
		}
		port := strconv.Itoa(p.Published)
		if p.PublishedEnd != 0 {
			port += "-" + strconv.Itoa(p.PublishedEnd)
		}
		at = append(at, p.HostIP+":"+port)
	}
	if len(at) == 0 {
		return ""
	}
	return " and on " + strings.Join(at, ", ")
}

// routeTargets lists a service's hosts with its paths.
func routeTargets(s Service) string {
	var out []string
	for _, h := range s.Hosts {
		if len(s.Paths) == 0 {
			out = append(out, h)
		}
		for _, p := range s.Paths {
			out = append(out, h+NormalizePath(p))
		}
	}
	return strings.Join(out, ", ")
}
