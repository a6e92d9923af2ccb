package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// RouteOptions are per-route behaviours. The zero value routes every path
// of the hosts and adds nothing to the request path.
type RouteOptions struct {
	// Paths are the path prefixes of the hosts this route serves
	// (segment-aware: "/api" matches /api and /api/x, not /apix); the
	// longest matching prefix of a host wins. Empty, or "/": every path.
	Paths []string
	// StripPrefix removes the matched prefix from the path sent to the
	// app (/api/x → /x) and sets X-Forwarded-Prefix.
	StripPrefix bool
	// RedirectHTTPS answers plain-HTTP requests with 308 to https.
	RedirectHTTPS bool
	// MaxBodyBytes refuses larger request bodies with 413: 0 takes the
	// proxy's default (Options.MaxBodyBytes), negative means no limit.
	MaxBodyBytes int64
	// BodyTimeout is the longest wait for the next bytes of a request
	// body: a client that stalls longer gets 408 and its connection is
	// closed. 0 takes the proxy's default (Options.BodyTimeout), negative
	// means none.
	BodyTimeout time.Duration
	// WriteTimeout is the longest a client may take to accept the next
	// bytes of a response before its connection is closed. 0 takes the
	// proxy's default (Options.WriteTimeout), negative means none.
	WriteTimeout time.Duration
	// ResponseTimeout answers 504 when the app has not started its
	// response this long after the request was sent (0: no limit).
	ResponseTimeout time.Duration
	// TLSCert and TLSKey name a certificate and key file for the route's
	// hosts, served on the HTTPS listener (see Options.Certs).
	TLSCert, TLSKey string
}

// Equal reports whether o and x route and behave alike (paths compared
// as the proxy normalises them).
func (o RouteOptions) Equal(x RouteOptions) bool {
	po, err1 := normalizePaths(o.Paths)
	px, err2 := normalizePaths(x.Paths)
	if err1 != nil || err2 != nil || !slices.Equal(po, px) {
		return false
	}
	o.Paths, x.Paths = nil, nil
	return o.StripPrefix == x.StripPrefix && o.RedirectHTTPS == x.RedirectHTTPS &&
		o.MaxBodyBytes == x.MaxBodyBytes && o.ResponseTimeout == x.ResponseTimeout &&
		o.BodyTimeout == x.BodyTimeout && o.WriteTimeout == x.WriteTimeout &&
		o.TLSCert == x.TLSCert && o.TLSKey == x.TLSKey
}

// active reports whether o changes anything on the request path.
func (o *RouteOptions) active() bool {
	return o.StripPrefix || o.RedirectHTTPS
}

// route is an immutable entry of a table.
type route struct {
	key     RouteKey
	hosts   []string
	paths   []string // normalised prefixes; ["/"] for the whole host
	pool    *Pool
	ctr     *counters
	opts    *RouteOptions // nil: nothing to apply before the pool
	timeout time.Duration // RouteOptions.ResponseTimeout
	limits  limits        // body limit and client timeouts, defaults resolved
	raw     RouteOptions
	// canary, when set, takes a share of the clients (see SetCanary).
	canary *canary
}

// hostEntry is what a host routes to. A host with only a whole-host route
// has paths == nil: the request path is not looked at.
type hostEntry struct {
	root  *route      // the "/" route, nil if none
	paths []pathRoute // longest prefix first, "/" excluded
	// notFound are the counters (for the app's 404 page) of the app env
	// owning every route of the host; nil when they are several.
	notFound *counters
}

type pathRoute struct {
	prefix string
	rt     *route
}

// match returns the route of path and the prefix it matched ("" for the
// root route).
func (e *hostEntry) match(path string) (*route, string) {
	for i := range e.paths {
		if hasPathPrefix(path, e.paths[i].prefix) {
			return e.paths[i].rt, e.paths[i].prefix
		}
	}
	return e.root, ""
}

// hasPathPrefix reports whether prefix (normalised, not "/") is a leading
// run of whole segments of path.
func hasPathPrefix(path, prefix string) bool {
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// table is an immutable routing snapshot.
type table struct {
	byHost map[string]*hostEntry
	byKey  map[RouteKey]*route
}

// lookup returns the route of host and path, the matched prefix, and the
// host's entry (nil when the host is not routed at all).
func (t *table) lookup(host, path string) (*route, string, *hostEntry) {
	e := t.byHost[host]
	if e == nil {
		return nil, "", nil
	}
	if e.paths == nil {
		return e.root, "", e
	}
	rt, prefix := e.match(path)
	return rt, prefix, e
}

// normalizePaths cleans route prefixes: a leading "/", no trailing "/",
// duplicates dropped; none (or "/") is the whole host, ["/"].
func normalizePaths(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		p = strings.TrimSpace(p)
		if p == "" || p[0] != '/' || strings.ContainsAny(p, "?# \t\r\n") {
			return nil, fmt.Errorf("path prefix %q: must be a URL path starting with \"/\", without query or fragment", p)
		}
		if p != "/" {
			p = strings.TrimRight(p, "/")
			if p == "" {
				p = "/"
			}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = append(out, "/")
	}
	return out, nil
}

// checkRoute returns an error wrapping ErrHostTaken naming the other route
// when a (host, path) pair of hosts × paths is routed to a key other than
// key.
func (t *table) checkRoute(key RouteKey, hosts, paths []string) error {
	for _, h := range hosts {
		e := t.byHost[h]
		if e == nil {
			continue
		}
		for _, p := range paths {
			var other *route
			if p == "/" {
				other = e.root
			} else {
				for _, pr := range e.paths {
					if pr.prefix == p {
						other = pr.rt
					}
				}
			}
			if other != nil && other.key != key {
				where := h
				if p != "/" {
					where += p
				}
				return fmt.Errorf("%s is routed to app %s env %s service %s: %w",
					where, other.key.App, other.key.Env, other.key.Service, ErrHostTaken)
			}
		}
	}
	return nil
}

// build returns a table of the routes in byKey.
func build(byKey map[RouteKey]*route) *table {
	t := &table{byHost: map[string]*hostEntry{}, byKey: byKey}
	keys := make([]RouteKey, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b RouteKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		rt := byKey[k]
		for _, h := range rt.hosts {
			e := t.byHost[h]
			if e == nil {
				e = &hostEntry{notFound: rt.ctr}
				t.byHost[h] = e
			} else if e.notFound != rt.ctr {
				e.notFound = nil
			}
			for _, p := range rt.paths {
				if p == "/" {
					e.root = rt
				} else {
					e.paths = append(e.paths, pathRoute{prefix: p, rt: rt})
				}
			}
		}
	}
	for _, e := range t.byHost {
		slices.SortStableFunc(e.paths, func(a, b pathRoute) int { return len(b.prefix) - len(a.prefix) })
	}
	return t
}

// stripPrefix returns a copy of r whose path lacks prefix. The target
// learns prefix from X-Forwarded-Prefix, which wire.Forwarded writes (in
// place of the client's) when Pool.serve is given the prefix, as the
// lane's writer does.
func stripPrefix(r *http.Request, prefix string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	rest := wire.StripPrefix(u.Path, prefix)
	if u.RawPath != "" {
		ep := (&url.URL{Path: prefix}).EscapedPath()
		if raw, ok := strings.CutPrefix(u.RawPath, ep); ok {
			if raw == "" {
				raw = "/"
			}
			u.RawPath = raw
		} else {
			u.RawPath = ""
		}
	}
	u.Path = rest
	r2.URL = &u
	r2.RequestURI = u.RequestURI()
	return r2
}
