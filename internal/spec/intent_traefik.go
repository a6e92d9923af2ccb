package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// traefikLabels returns the service's traefik.* labels: labels: and, as
// Traefik reads them on Swarm, deploy.labels (which win).
func traefikLabels(sc types.ServiceConfig) map[string]string {
	out := map[string]string{}
	add := func(l types.Labels) {
		for k, v := range l {
			if strings.HasPrefix(k, "traefik.") {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	add(sc.Labels)
	if sc.Deploy != nil {
		add(sc.Deploy.Labels)
	}
	return out
}

// checkDeployLabels refuses the deploy.labels that are not Traefik's:
// they are the labels of a Swarm service, which berth does not set yet.
// Traefik's are read as routes (traefikLabels), as Traefik reads them on
// Swarm, so a file written for Traefik on Swarm is not refused for them.
func checkDeployLabels(c *collector, service string, labels types.Labels) {
	var others []string
	for k := range labels {
		if !strings.HasPrefix(k, "traefik.") {
			others = append(others, quote(k))
		}
	}
	if len(others) == 0 {
		return
	}
	slices.Sort(others)
	c.add(service, "deploy.labels", fmt.Sprintf("berth cannot apply %s yet: they would be labels of the Swarm service (berth reads only Traefik's traefik.* labels here, as routes); move them to labels: (the containers' labels) or remove them", strings.Join(others, ", ")))
}

// traefikDisabled reports whether traefik.enable is false.
func traefikDisabled(labels map[string]string) bool {
	v, ok := labels["traefik.enable"]
	b, err := strconv.ParseBool(v)
	return ok && err == nil && !b
}

// traefikRouter is one traefik.http.routers.NAME.
type traefikRouter struct {
	name  string
	attrs map[string]string // rule, entrypoints, tls, middlewares, service, ...
}

// importTraefik reads Traefik v2/v3 HTTP router labels: rules made of
// Host and PathPrefix, the load balancer's server port, and the
// stripprefix and redirectscheme middlewares attached to the routers.
// What it cannot import is a warning (through warn, with the label) or a
// note; nil when the service has no router rule.
func importTraefik(name string, labels map[string]string, warn func(label, msg string)) *importedRoute {
	routers := map[string]*traefikRouter{}
	var other []string
	for k, v := range labels {
		rest, ok := strings.CutPrefix(k, "traefik.http.routers.")
		if !ok {
			if strings.HasPrefix(k, "traefik.tcp.") || strings.HasPrefix(k, "traefik.udp.") {
				other = append(other, k)
			}
			continue
		}
		rname, attr, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		if routers[rname] == nil {
			routers[rname] = &traefikRouter{name: rname, attrs: map[string]string{}}
		}
		routers[rname].attrs[strings.ToLower(attr)] = v
	}
	r := &importedRoute{source: "Traefik labels"}
	if len(other) > 0 {
		slices.Sort(other)
		r.notes = append(r.notes, fmt.Sprintf("%s: Traefik TCP/UDP routers are not imported; berth forwards TCP and UDP through ports:", strings.Join(other, ", ")))
	}
	var imported []*traefikRouter
	pairs := map[[2]string]bool{}
	var hosts, paths []string
	for _, rn := range slices.Sorted(maps.Keys(routers)) {
		rt := routers[rn]
		rule, ok := rt.attrs["rule"]
		if !ok {
			continue
		}
		label := "traefik.http.routers." + rn + ".rule"
		rs, err := parseTraefikRule(rule)
		if err != nil {
			warn(label, fmt.Sprintf("the rule %s was not imported: %v; route the service with x-berth.hosts (and x-berth.paths)", quote(rule), err))
			r.failed = true
			continue
		}
		imported = append(imported, rt)
		for _, h := range rs.Hosts {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
			for _, p := range rs.Paths {
				if !slices.Contains(paths, p) {
					paths = append(paths, p)
				}
				pairs[[2]string{h, p}] = true
			}
		}
	}
	if len(imported) == 0 {
		if r.failed {
			return r
		}
		// No rule: Traefik routes the service by its default rule; berth
		// by its default host, on the load balancer's port if set.
		importTraefikPort(r, nil, labels, warn)
		switch {
		case r.failed:
			return r
		case r.port == 0 && len(r.notes) > 0: // TCP/UDP routers only
			r.failed = true
			return r
		case r.port == 0:
			return nil
		}
		return r
	}
	if len(pairs) != len(hosts)*len(paths) {
		var names []string
		for _, rt := range imported {
			names = append(names, rt.name)
		}
		warn("traefik.http.routers", fmt.Sprintf("the routers %s were not imported: their hosts do not all take the same path prefixes, and berth gives a service one list of hosts and one of paths; route it with x-berth.hosts and x-berth.paths", strings.Join(names, ", ")))
		r.failed = true
		return r
	}
	r.failed = false
	r.hosts = hosts
	if !slices.Contains(paths, "/") { // "/" among them: every path
		r.paths = paths
	}
	var names []string
	for _, rt := range imported {
		names = append(names, rt.name)
	}
	r.source = "Traefik labels (router " + strings.Join(names, ", ") + ")"
	r.field = "labels.traefik.http.routers." + names[0] + ".rule"
	importTraefikPort(r, imported, labels, warn)
	importTraefikExtras(r, imported, labels, warn)
	return r
}

// importTraefikPort reads the port of the load balancer the routers send
// to: their service's, or the only one the labels name.
func importTraefikPort(r *importedRoute, routers []*traefikRouter, labels map[string]string, warn func(label, msg string)) {
	portOf := map[string][2]string{} // service → port, label
	for k, v := range labels {
		rest, ok := strings.CutPrefix(k, "traefik.http.services.")
		if !ok {
			continue
		}
		svc, attr, ok := strings.Cut(rest, ".")
		attr = strings.ToLower(attr)
		switch {
		case !ok:
		case attr == "loadbalancer.server.port":
			portOf[svc] = [2]string{v, k}
		case attr == "loadbalancer.server.scheme" && !strings.EqualFold(v, "http"):
			warn(k, fmt.Sprintf("%s was not imported, nor the route: berth sends plain HTTP to the container (it terminates TLS itself); serve HTTP in the container and point loadbalancer.server.port at it", quote(v)))
			r.failed = true
		case strings.HasPrefix(attr, "loadbalancer.healthcheck."):
			importTraefikHealth(r, k, strings.TrimPrefix(attr, "loadbalancer.healthcheck."), v)
		}
	}
	want := map[string]bool{}
	for _, rt := range routers {
		if svc := strings.TrimSuffix(rt.attrs["service"], "@docker"); svc != "" {
			want[svc] = true
		}
	}
	ports := map[string]string{} // port → label
	for svc, p := range portOf {
		if len(want) == 0 || want[svc] {
			ports[p[0]] = p[1]
		}
	}
	switch len(ports) {
	case 0:
		return
	case 1:
		for p, label := range ports {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				warn(label, fmt.Sprintf("must be a container port (1 to 65535), got %s; not imported", quote(p)))
				return
			}
			r.port, r.portFrom = n, label
		}
	default:
		warn("traefik.http.services", fmt.Sprintf("the routers send to load balancers on the ports %s; berth routes a service to one port: set x-berth.port", strings.Join(slices.Sorted(maps.Keys(ports)), ", ")))
	}
}

// importTraefikExtras reads the routers' middlewares and says what berth
// does about entrypoints and tls.
func importTraefikExtras(r *importedRoute, routers []*traefikRouter, labels map[string]string, warn func(label, msg string)) {
	var tlsish []string
	seen := map[string]bool{}
	for _, rt := range routers {
		for _, a := range slices.Sorted(maps.Keys(rt.attrs)) {
			if a == "entrypoints" || a == "tls" || strings.HasPrefix(a, "tls.") {
				tlsish = append(tlsish, "traefik.http.routers."+rt.name+"."+a)
			}
		}
		for _, m := range strings.Split(rt.attrs["middlewares"], ",") {
			m = strings.TrimSpace(m)
			if m == "" || seen[m] {
				continue
			}
			seen[m] = true
			importMiddleware(r, m, labels, warn)
		}
	}
	if len(tlsish) > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%s: not needed: berth serves every route on its HTTP listener and, with berth server --https-addr, on HTTPS with a certificate from --cert-dir or its own ACME client", strings.Join(tlsish, ", ")))
	}
}

// importMiddleware imports one middleware a router uses: stripprefix of
// the router's own path prefixes, redirectscheme to https.
func importMiddleware(r *importedRoute, m string, labels map[string]string, warn func(label, msg string)) {
	label := "traefik.http.middlewares." + m
	name, provider, _ := strings.Cut(m, "@")
	if provider != "" && provider != "docker" && provider != "swarm" {
		warn(label, fmt.Sprintf("the middleware %s is defined outside the labels (@%s) and was not imported; berth imports stripprefix and redirectscheme middlewares from the service's labels", quote(m), provider))
		return
	}
	prefix := "traefik.http.middlewares." + name + "."
	var kinds []string
	for k := range labels {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			kind, _, _ := strings.Cut(rest, ".")
			if !slices.Contains(kinds, strings.ToLower(kind)) {
				kinds = append(kinds, strings.ToLower(kind))
			}
		}
	}
	slices.Sort(kinds)
	if len(kinds) != 1 {
		warn(prefix+"*", fmt.Sprintf("the middleware %s has %d kinds of settings in the labels and was not imported; berth imports stripprefix and redirectscheme middlewares", quote(name), len(kinds)))
		return
	}
	find := func(attr string) (string, bool) {
		for k, v := range labels {
			if strings.EqualFold(k, prefix+kinds[0]+"."+attr) {
				return v, true
			}
		}
		return "", false
	}
	switch kinds[0] {
	case "stripprefix":
		v, _ := find("prefixes")
		var ps []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				ps = append(ps, NormalizePath(p))
			}
		}
		slices.Sort(ps)
		want := slices.Sorted(slices.Values(r.paths))
		if len(ps) == 0 || !slices.Equal(ps, want) {
			warn(prefix+"stripprefix.prefixes", fmt.Sprintf("%s was not imported: berth strips the matched path prefix (x-berth.strip_prefix), and these are not the router's PathPrefix values %s", quote(v), strings.Join(want, ", ")))
			return
		}
		r.stripPrefix = true
	case "redirectscheme":
		v, _ := find("scheme")
		if !strings.EqualFold(v, "https") {
			warn(prefix+"redirectscheme.scheme", fmt.Sprintf("%s was not imported: berth redirects to https only (x-berth.redirect_https)", quote(v)))
			return
		}
		r.redirect = true
	default:
		r.notes = append(r.notes, fmt.Sprintf("%s%s: the middleware %s was not imported: berth has no setting for Traefik's %s", prefix, kinds[0], quote(name), kinds[0]))
	}
}

// importTraefikHealth reads one loadbalancer.healthcheck label: path,
// interval and timeout become berth's health check; the rest is a note.
func importTraefikHealth(r *importedRoute, label, attr, v string) {
	switch attr {
	case "path":
		if strings.HasPrefix(v, "/") && !strings.ContainsAny(v, " \t\r\n#") {
			r.health.Path = v
			return
		}
	case "interval", "timeout":
		d, err := time.ParseDuration(v)
		if err != nil {
			if n, nerr := strconv.Atoi(v); nerr == nil {
				d, err = time.Duration(n)*time.Second, nil // Traefik v2 reads a bare number as seconds
			}
		}
		if err == nil && d > 0 {
			if attr == "interval" {
				r.health.Interval = Duration(d)
			} else {
				r.health.Timeout = Duration(d)
			}
			return
		}
	}
	r.notes = append(r.notes, fmt.Sprintf("%s=%s was not imported: berth's health check takes a path, an interval and a timeout (x-berth.healthcheck)", label, v))
}
