package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrHostTaken is returned (wrapped) when a host is already routed to a
// different app/env/service.
var ErrHostTaken = errors.New("host already routed")

// RouteKey identifies a routed service of an app environment.
type RouteKey struct{ App, Env, Service string }

// String returns "app/env/service".
func (k RouteKey) String() string { return k.App + "/" + k.Env + "/" + k.Service }

// RouteInfo describes one route of the current routing table.
type RouteInfo struct {
	Key   RouteKey
	Hosts []string
	Paths []string // path prefixes; ["/"] for the whole host
	Pool  *Pool
	// Canary is the route's canary pool (nil when none) and CanaryWeight
	// the percentage of clients it gets.
	Canary       *Pool
	CanaryWeight int
}

// Counters are monotonic request totals of an app environment since the
// process started.
type Counters struct {
	// Served counts requests answered by a target (any status the app chose).
	Served uint64
	// Failed counts responses the proxy generated because it could not get
	// one from a target: 502, 503 (no healthy target), 504.
	Failed uint64
}

// Options configures a Proxy.
type Options struct {
	Logger *slog.Logger
	// Certs, when set, checks the certificate files of routes that name
	// one (RouteOptions.TLSCert) and is told the routes after each change.
	Certs Certs
	// AccessLog, when set, gets a line per request: served by a pool, or
	// answered by the proxy itself (no route: 404; maintenance: 503). The
	// caller closes it after the servers stopped.
	AccessLog *AccessLog
	// MaxBodyBytes is the request body limit of routes that set none
	// (RouteOptions.MaxBodyBytes 0): 0 means DefaultMaxBodyBytes,
	// negative no limit.
	MaxBodyBytes int64
	// BodyTimeout and WriteTimeout are the timeouts of routes that set
	// none (see RouteOptions): 0 means DefaultBodyTimeout and
	// DefaultWriteTimeout, negative none.
	BodyTimeout, WriteTimeout time.Duration
}

// Defaults of Options.
const (
	// DefaultMaxBodyBytes is 100 MB, as a CDN's upload limit: enough for
	// ordinary uploads, and a 10 GB body does not stream to an app that
	// never asked for one. Routes raise it with max_body_size.
	DefaultMaxBodyBytes = 100 << 20
	// DefaultBodyTimeout and DefaultWriteTimeout are nginx's
	// client_body_timeout and send_timeout.
	DefaultBodyTimeout  = 60 * time.Second
	DefaultWriteTimeout = 60 * time.Second
)

// Proxy is an http.Handler that routes requests by Host to target pools.
type Proxy struct {
	log   *slog.Logger
	table atomic.Pointer[table]
	certs Certs
	alog  *AccessLog
	ids   *idGen // request ids of the answers the proxy gives itself

	mu       sync.Mutex // serialises table writers and guards counters
	counters map[appEnv]*counters
	// drainTimeouts are the routes' drain timeouts as their last Switch
	// gave them (DrainTimeoutOf), under mu.
	drainTimeouts map[RouteKey]time.Duration

	unrouted atomic.Uint64

	// drains are the pools swapped out by Switch, draining (switch.go).
	drains drainSet

	// defaults are the limits of routes that set none (Options).
	defaults limits
}

// limits are a route's bounds on clients, resolved from its options and
// the proxy's defaults: each 0 when there is none.
type limits struct {
	maxBody      int64         // request body bytes (413 beyond)
	bodyTimeout  time.Duration // wait for the next bytes of a request body (408)
	writeTimeout time.Duration // wait for a client to take response bytes (closed)
}

// resolve returns the limits of a route with options o over defaults d.
func (d limits) resolve(o RouteOptions) limits {
	pick := func(v, def int64) int64 {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	return limits{
		maxBody:      pick(o.MaxBodyBytes, d.maxBody),
		bodyTimeout:  time.Duration(pick(int64(o.BodyTimeout), int64(d.bodyTimeout))),
		writeTimeout: time.Duration(pick(int64(o.WriteTimeout), int64(d.writeTimeout))),
	}
}

// defaultLimits resolves Options' limits: 0 is the package default,
// negative none.
func defaultLimits(o Options) limits {
	return limits{maxBody: DefaultMaxBodyBytes, bodyTimeout: DefaultBodyTimeout, writeTimeout: DefaultWriteTimeout}.
		resolve(RouteOptions{MaxBodyBytes: o.MaxBodyBytes, BodyTimeout: o.BodyTimeout, WriteTimeout: o.WriteTimeout})
}

type appEnv struct{ app, env string }

type counters struct {
	served atomic.Uint64
	failed atomic.Uint64
	// maint is the maintenance page while the app environment is in
	// maintenance mode (nil otherwise); it lives here so swaps keep it.
	maint atomic.Pointer[[]byte]
	// pages are the app's own error pages by status (nil: berth's).
	pages atomic.Pointer[map[int][]byte]
	// alog is the proxy's access log (nil: none), here so that a pool
	// serving the app environment reaches it with no lookup.
	alog *AccessLog
}

// New returns a Proxy with an empty routing table.
func New(opts Options) *Proxy {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &Proxy{
		log:      log.With("component", "proxy"),
		counters: map[appEnv]*counters{},
		certs:    opts.Certs,
		alog:     opts.AccessLog,
		ids:      newIDGen(),
		defaults: defaultLimits(opts),
	}
	p.table.Store(&table{byHost: map[string]*hostEntry{}, byKey: map[RouteKey]*route{}})
	return p
}

// ServeHTTP routes r by its Host header, then by the longest matching
// path prefix of that host, to the pool of the matching route.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := normalizeHost(r.Host)
	// A request that loads a table an instant before a swap may find its
	// pool already retired (draining ended); it then routes again on the
	// newer table. Two rounds are enough: a pool is retired only after it
	// was swapped out.
	var client string // canary client id, looked up once
	for round := range 3 {
		rt, prefix, e := p.table.Load().lookup(host, r.URL.Path)
		if round == 0 { // the route's write timeout, once
			wt := p.defaults.writeTimeout
			if rt != nil {
				wt = rt.limits.writeTimeout
			}
			w = limitWrites(w, r, wt)
		}
		if rt == nil {
			p.answerOwn(w, r, RouteKey{}, nil, func(w http.ResponseWriter) { p.notFound(w, r, host, e) })
			return
		}
		if pg := rt.ctr.maint.Load(); pg != nil {
			p.answerOwn(w, r, rt.key, rt.ctr.alog, func(w http.ResponseWriter) { writeMaintenance(w, r, *pg) })
			return
		}
		if rt.opts != nil && !applyOptions(w, r, rt.opts) {
			return
		}
		if round == 0 && r.ContentLength != 0 && !p.takeBody(w, r, rt) {
			return
		}
		rr, strip := r, ""
		if rt.opts != nil && rt.opts.StripPrefix && prefix != "" {
			rr, strip = stripPrefix(r, prefix), prefix
		}
		pool := rt.pool
		if c := rt.canary; c != nil {
			if client == "" {
				client = canaryClient(w, r)
			}
			pool = c.choose(client, pool)
		}
		if pool.serve(w, rr, rt.ctr, rt.timeout, strip) {
			return
		}
	}
	rt, _, _ := p.table.Load().lookup(host, r.URL.Path)
	var ctr *counters
	if rt != nil {
		ctr = rt.ctr
		rt.ctr.failed.Add(1)
	}
	writeAppPage(w, r, ctr, http.StatusServiceUnavailable, "Service unavailable",
		"The route of this host is being replaced; try again.")
}

// notFound answers a request no route matches: an unknown host, or a path
// no prefix of a routed host covers (with the app's 404 page when the
// host belongs to one app environment).
func (p *Proxy) notFound(w http.ResponseWriter, r *http.Request, host string, e *hostEntry) {
	p.unrouted.Add(1)
	if e == nil {
		writePage(w, r, http.StatusNotFound, "No app here",
			"No app is routed to the host "+host+".")
		return
	}
	writeAppPage(w, r, e.notFound, http.StatusNotFound, "Not found",
		"No app is routed to this path of "+host+".")
}

// Unrouted returns how many requests named a host that no route has.
func (p *Proxy) Unrouted() uint64 { return p.unrouted.Load() }

// normalizeHost strips the port and a trailing dot and lowercases h,
// allocating only when h has upper-case letters.
func normalizeHost(h string) string {
	if len(h) > 0 && h[0] == '[' {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}

func normalizeHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		h = normalizeHost(strings.TrimSpace(h))
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// CheckHosts returns an error wrapping ErrHostTaken naming the other route
// when any of hosts is routed to another app environment. Routes of key's
// own app environment are not checked here (its services may share a host
// by path; SetRouteOptions checks the exact (host, path) pairs): use
// CheckRoute when the paths are known.
func (p *Proxy) CheckHosts(key RouteKey, hosts []string) error {
	t := p.table.Load()
	for _, h := range normalizeHosts(hosts) {
		e := t.byHost[h]
		if e == nil {
			continue
		}
		rts := make([]*route, 0, len(e.paths)+1)
		if e.root != nil {
			rts = append(rts, e.root)
		}
		for _, pr := range e.paths {
			rts = append(rts, pr.rt)
		}
		for _, rt := range rts {
			if rt.key.App != key.App || rt.key.Env != key.Env {
				return fmt.Errorf("host %s is routed to app %s env %s service %s: %w",
					h, rt.key.App, rt.key.Env, rt.key.Service, ErrHostTaken)
			}
		}
	}
	return nil
}

// CheckRoute returns an error wrapping ErrHostTaken naming the other route
// when a (host, path) pair of hosts and o.Paths is routed to a key other
// than key, or an error when o.Paths are not valid prefixes.
func (p *Proxy) CheckRoute(key RouteKey, hosts []string, o RouteOptions) error {
	paths, err := normalizePaths(o.Paths)
	if err != nil {
		return fmt.Errorf("route %s: %w", key, err)
	}
	return p.table.Load().checkRoute(key, normalizeHosts(hosts), paths)
}

// SetRoute publishes, in one atomic step, a routing table where every host
// of hosts points at pool and the hosts key had before but not now are
// gone. It returns the pool the key had before (nil if none, or if it is
// pool itself), which the caller should Drain: Switch does all of it.
func (p *Proxy) SetRoute(key RouteKey, hosts []string, pool *Pool) (old *Pool, err error) {
	return p.SetRouteOptions(key, hosts, pool, RouteOptions{})
}

// SetRouteOptions is SetRoute with options: the route serves the paths
// o.Paths of hosts (all paths when none). A (host, path) pair routed to
// another key is refused with an error wrapping ErrHostTaken. The route
// keeps its canary (SetCanary), unless pool is the canary's pool: then the
// canary is promoted, the route has no canary any more and old is the
// pool that was live.
func (p *Proxy) SetRouteOptions(key RouteKey, hosts []string, pool *Pool, o RouteOptions) (old *Pool, err error) {
	if pool == nil {
		return nil, fmt.Errorf("route %s: nil pool", key)
	}
	paths, err := normalizePaths(o.Paths)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", key, err)
	}
	hosts = normalizeHosts(hosts)
	o.Paths = paths
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	if err := cur.checkRoute(key, hosts, paths); err != nil {
		return nil, err
	}
	if p.certs != nil {
		if err := p.certs.CheckCert(hosts, o.TLSCert, o.TLSKey); err != nil {
			return nil, fmt.Errorf("route %s: %w", key, err)
		}
	}
	ctr := p.countersLocked(key.App, key.Env)
	rt := &route{key: key, hosts: hosts, paths: paths, pool: pool, ctr: ctr, timeout: o.ResponseTimeout, raw: o,
		limits: p.defaults.resolve(o)}
	if o.active() {
		rt.opts = &rt.raw
	}
	if prev := cur.byKey[key]; prev != nil && prev.canary != nil && prev.canary.pool != pool {
		rt.canary = prev.canary
	}
	byKey := maps.Clone(cur.byKey)
	byKey[key] = rt
	next := build(byKey)
	p.table.Store(next)
	p.tellCerts(next)
	if prev := cur.byKey[key]; prev != nil && prev.pool != pool {
		old = prev.pool
	}
	p.log.Info("route set", "app", key.App, "env", key.Env, "service", key.Service,
		"release", pool.Release(), "hosts", strings.Join(hosts, ","), "paths", strings.Join(paths, ","),
		"healthy", pool.Healthy())
	return old, nil
}

// RemoveRoute removes key's route and returns its pool (nil if none), which
// the caller should Drain (Switch with no pool does both). A canary of the route goes with it: take it off
// first with RemoveCanary to drain it.
func (p *Proxy) RemoveRoute(key RouteKey) (old *Pool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	prev := cur.byKey[key]
	if prev == nil {
		return nil
	}
	byKey := maps.Clone(cur.byKey)
	delete(byKey, key)
	next := build(byKey)
	p.table.Store(next)
	p.tellCerts(next)
	p.log.Info("route removed", "app", key.App, "env", key.Env, "service", key.Service,
		"release", prev.pool.Release())
	return prev.pool
}

// Route returns key's current pool and hosts (nil, nil if not routed).
func (p *Proxy) Route(key RouteKey) (*Pool, []string) {
	rt := p.table.Load().byKey[key]
	if rt == nil {
		return nil, nil
	}
	return rt.pool, slices.Clone(rt.hosts)
}

// RouteOptionsOf returns the options key's route was set with (Paths
// normalised), and whether it is routed.
func (p *Proxy) RouteOptionsOf(key RouteKey) (RouteOptions, bool) {
	rt := p.table.Load().byKey[key]
	if rt == nil {
		return RouteOptions{}, false
	}
	o := rt.raw
	o.Paths = slices.Clone(rt.paths)
	return o, true
}

// Routes returns every route, sorted by key.
func (p *Proxy) Routes() []RouteInfo {
	t := p.table.Load()
	out := make([]RouteInfo, 0, len(t.byKey))
	for _, rt := range t.byKey {
		ri := RouteInfo{Key: rt.key, Hosts: slices.Clone(rt.hosts), Paths: slices.Clone(rt.paths), Pool: rt.pool}
		if rt.canary != nil {
			ri.Canary, ri.CanaryWeight = rt.canary.pool, int(rt.canary.weight)
		}
		out = append(out, ri)
	}
	slices.SortFunc(out, func(a, b RouteInfo) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// Counters returns the request totals of app/env since the process started.
func (p *Proxy) Counters(app, env string) Counters {
	p.mu.Lock()
	ctr := p.counters[appEnv{app, env}]
	p.mu.Unlock()
	if ctr == nil {
		return Counters{}
	}
	return Counters{Served: ctr.served.Load(), Failed: ctr.failed.Load()}
}

// countersLocked returns app/env's counters, creating them; p.mu is held.
func (p *Proxy) countersLocked(app, env string) *counters {
	ae := appEnv{app, env}
	ctr := p.counters[ae]
	if ctr == nil {
		ctr = &counters{alog: p.alog}
		p.counters[ae] = ctr
	}
	return ctr
}

// SetMaintenance turns maintenance mode of app/env on or off. While on,
// every route of the app environment answers 503 with Retry-After and
// page (a default page when empty); such answers count neither as served
// nor as failed. Routes set later keep the mode.
func (p *Proxy) SetMaintenance(app, env string, on bool, page []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctr := p.countersLocked(app, env)
	if !on {
		ctr.maint.Store(nil)
		return
	}
	pg := append([]byte(nil), page...)
	ctr.maint.Store(&pg)
}

// Maintenance reports whether app/env is in maintenance mode.
func (p *Proxy) Maintenance(app, env string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctr := p.counters[appEnv{app, env}]
	return ctr != nil && ctr.maint.Load() != nil
}

// applyOptions enforces a route's options; false means it answered.
// (The body limit is takeBody's.)
func applyOptions(w http.ResponseWriter, r *http.Request, o *RouteOptions) bool {
	if o.RedirectHTTPS && r.TLS == nil {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusPermanentRedirect)
		return false
	}
	return true
}

// SetErrorPages gives app/env's routes its own HTML for the errors the
// proxy answers (502, 503, 504); nil or empty restores berth's pages.
func (p *Proxy) SetErrorPages(app, env string, pages map[int][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctr := p.countersLocked(app, env)
	if len(pages) == 0 {
		ctr.pages.Store(nil)
		return
	}
	cp := make(map[int][]byte, len(pages))
	for k, v := range pages {
		cp[k] = append([]byte(nil), v...)
	}
	ctr.pages.Store(&cp)
}
