package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// importedRoute is a route read from the settings a service already has
// for another proxy: nginx-proxy's environment or Traefik's labels.
type importedRoute struct {
	// source names what it was read from, for the note; field the
	// setting its hosts came from, for errors.
	source string
	field  string
	hosts  []string
	paths  []string
	// port is 0 when the settings do not say it; portFrom names the
	// label or variable it was read from.
	port        int
	portFrom    string
	stripPrefix bool
	redirect    bool
	// notes are said to the user whatever happens to the route.
	notes []string
	// failed: a route was asked for but none could be imported (the
	// reasons are in notes, warnings or errors).
	failed bool
}

// nginxProxyKeys are the environment variables nginx-proxy (and its
// acme-companion) read from a container.
var nginxProxyKeys = []string{"VIRTUAL_HOST", "VIRTUAL_PORT", "VIRTUAL_PATH", "VIRTUAL_PROTO", "VIRTUAL_DEST", "LETSENCRYPT_HOST", "LETSENCRYPT_EMAIL"}

// hasNginxProxy reports whether the service sets VIRTUAL_HOST.
func hasNginxProxy(sc types.ServiceConfig) bool {
	v, ok := sc.Environment["VIRTUAL_HOST"]
	return ok && v != nil && strings.TrimSpace(*v) != ""
}

// importNginxProxy reads nginx-proxy's VIRTUAL_HOST, VIRTUAL_PORT,
// VIRTUAL_PATH, VIRTUAL_DEST and VIRTUAL_PROTO from the service's
// environment, reporting to c what berth cannot route as nginx-proxy
// would; nil when VIRTUAL_HOST is not set.
func importNginxProxy(c *collector, name string, sc types.ServiceConfig) *importedRoute {
	if !hasNginxProxy(sc) {
		return nil
	}
	env := func(k string) string {
		if v := sc.Environment[k]; v != nil {
			return strings.TrimSpace(*v)
		}
		return ""
	}
	r := &importedRoute{source: "VIRTUAL_HOST", field: "environment.VIRTUAL_HOST"}
	bad := func(key, msg string) {
		c.add(name, "environment."+key, msg)
		r.failed = true
	}
	for _, h := range strings.Split(env("VIRTUAL_HOST"), ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
			continue
		case strings.HasPrefix(h, "~"):
			bad("VIRTUAL_HOST", fmt.Sprintf("%s is a regular expression; berth routes exact host names: list each host name in VIRTUAL_HOST (or x-berth.hosts)", quote(h)))
		case strings.Contains(h, "*"):
			bad("VIRTUAL_HOST", fmt.Sprintf("%s is a wildcard; berth routes exact host names: list each host name in VIRTUAL_HOST (or x-berth.hosts)", quote(h)))
		case checkHost(h) != "":
			bad("VIRTUAL_HOST", checkHost(h))
		case !slices.Contains(r.hosts, h):
			r.hosts = append(r.hosts, h)
		}
	}
	if v := env("VIRTUAL_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			bad("VIRTUAL_PORT", fmt.Sprintf("must be the container port the app listens on (1 to 65535), got %s", quote(v)))
		} else {
			r.port, r.portFrom = n, "VIRTUAL_PORT"
			r.source = "VIRTUAL_HOST/VIRTUAL_PORT"
		}
	}
	if p := env("VIRTUAL_PATH"); p != "" {
		switch {
		case strings.HasPrefix(p, "~"):
			bad("VIRTUAL_PATH", fmt.Sprintf("%s is a regular expression; berth routes path prefixes: write one such as \"/api\"", quote(p)))
		case checkPathPrefix(p) != "":
			bad("VIRTUAL_PATH", checkPathPrefix(p))
		case NormalizePath(p) != "/":
			r.paths = []string{p}
			r.source += "/VIRTUAL_PATH"
		}
	}
	switch d := env("VIRTUAL_DEST"); {
	case d == "":
	case d == "/" && len(r.paths) > 0:
		r.stripPrefix = true
	default:
		bad("VIRTUAL_DEST", fmt.Sprintf("berth can strip the matched VIRTUAL_PATH (VIRTUAL_DEST=/) and rewrites nothing else, got %s; remove it or write VIRTUAL_DEST=/ with a VIRTUAL_PATH", quote(d)))
	}
	switch proto := strings.ToLower(env("VIRTUAL_PROTO")); proto {
	case "", "http":
	default:
		bad("VIRTUAL_PROTO", fmt.Sprintf("berth sends plain HTTP to the container (it terminates TLS itself), got %s; serve HTTP in the container, point VIRTUAL_PORT at it and remove VIRTUAL_PROTO", quote(proto)))
	}
	if le := env("LETSENCRYPT_HOST"); le != "" {
		var unrouted []string
		for _, h := range strings.Split(le, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !slices.Contains(r.hosts, h) {
				unrouted = append(unrouted, h)
			}
		}
		n := "LETSENCRYPT_HOST: berth gets certificates from its own ACME client for every host it routes (berth server --https-addr, --acme on by default), so it needs no list"
		if len(unrouted) > 0 {
			n += fmt.Sprintf("; %s is not in VIRTUAL_HOST, so it is not routed and gets none", strings.Join(unrouted, ", "))
		}
		r.notes = append(r.notes, n)
	}
	if env("LETSENCRYPT_EMAIL") != "" {
		r.notes = append(r.notes, "LETSENCRYPT_EMAIL: the ACME account's contact is the server's setting: berth server --acme-email")
	}
	if len(r.hosts) == 0 {
		r.failed = true
	}
	return r
}

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
		if r.port == 0 {
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
		if svc, attr, ok := strings.Cut(rest, "."); ok && strings.EqualFold(attr, "loadbalancer.server.port") {
			portOf[svc] = [2]string{v, k}
		} else if ok && strings.EqualFold(attr, "loadbalancer.server.scheme") && !strings.EqualFold(v, "http") {
			r.notes = append(r.notes, fmt.Sprintf("%s=%s was not imported: berth sends plain HTTP to the container", k, v))
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
