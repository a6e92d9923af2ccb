package spec

import (
	"fmt"
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
	// health holds the parts of a health check the settings give (path,
	// interval, timeout); zero for none.
	health Healthcheck
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
