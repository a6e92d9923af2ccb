package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	Pool  *Pool
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
}

// Proxy is an http.Handler that routes requests by Host to target pools.
type Proxy struct {
	log   *slog.Logger
	table atomic.Pointer[table]

	mu       sync.Mutex // serialises table writers and guards counters
	counters map[appEnv]*counters

	unrouted atomic.Uint64
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
}

// route is an immutable entry of a table.
type route struct {
	key   RouteKey
	hosts []string
	pool  *Pool
	ctr   *counters
	opts  *RouteOptions // nil: none
}

// table is an immutable routing snapshot.
type table struct {
	byHost map[string]*route
	byKey  map[RouteKey]*route
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
	}
	p.table.Store(&table{byHost: map[string]*route{}, byKey: map[RouteKey]*route{}})
	return p
}

// ServeHTTP routes r by its Host header to the pool of the matching route.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := normalizeHost(r.Host)
	// A request that loads a table an instant before a swap may find its
	// pool already retired (draining ended); it then routes again on the
	// newer table. Two rounds are enough: a pool is retired only after it
	// was swapped out.
	for range 3 {
		rt := p.table.Load().byHost[host]
		if rt == nil {
			p.unrouted.Add(1)
			writePage(w, r, http.StatusNotFound, "No app here",
				"No app is routed to the host "+host+".")
			return
		}
		if pg := rt.ctr.maint.Load(); pg != nil {
			writeMaintenance(w, r, *pg)
			return
		}
		if rt.opts != nil && !applyOptions(w, r, rt.opts) {
			return
		}
		if rt.pool.serve(w, r, rt.ctr) {
			return
		}
	}
	rt := p.table.Load().byHost[host]
	var ctr *counters
	if rt != nil {
		ctr = rt.ctr
		rt.ctr.failed.Add(1)
	}
	writeAppPage(w, r, ctr, http.StatusServiceUnavailable, "Service unavailable",
		"The route of this host is being replaced; try again.")
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
// when any of hosts is already routed to a key other than key.
func (p *Proxy) CheckHosts(key RouteKey, hosts []string) error {
	return p.table.Load().checkHosts(key, normalizeHosts(hosts))
}

func (t *table) checkHosts(key RouteKey, hosts []string) error {
	for _, h := range hosts {
		if rt := t.byHost[h]; rt != nil && rt.key != key {
			return fmt.Errorf("host %s is routed to app %s env %s service %s: %w",
				h, rt.key.App, rt.key.Env, rt.key.Service, ErrHostTaken)
		}
	}
	return nil
}

// SetRoute publishes, in one atomic step, a routing table where every host
// of hosts points at pool and the hosts key had before but not now are
// gone. It returns the pool the key had before (nil if none, or if it is
// pool itself), which the caller should Drain.
func (p *Proxy) SetRoute(key RouteKey, hosts []string, pool *Pool) (old *Pool, err error) {
	return p.SetRouteOptions(key, hosts, pool, RouteOptions{})
}

// RouteOptions are per-route behaviours checked before a request reaches
// a pool. The zero value adds nothing to the request path.
type RouteOptions struct {
	// RedirectHTTPS answers plain-HTTP requests with 308 to https.
	RedirectHTTPS bool
	// MaxBodyBytes refuses larger request bodies with 413 (0: no limit).
	MaxBodyBytes int64
}

// SetRouteOptions is SetRoute with options for the route.
func (p *Proxy) SetRouteOptions(key RouteKey, hosts []string, pool *Pool, o RouteOptions) (old *Pool, err error) {
	if pool == nil {
		return nil, fmt.Errorf("route %s: nil pool", key)
	}
	hosts = normalizeHosts(hosts)
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	if err := cur.checkHosts(key, hosts); err != nil {
		return nil, err
	}
	ctr := p.countersLocked(key.App, key.Env)
	next := cur.without(key)
	rt := &route{key: key, hosts: hosts, pool: pool, ctr: ctr}
	if o != (RouteOptions{}) {
		rt.opts = &o
	}
	next.byKey[key] = rt
	for _, h := range hosts {
		next.byHost[h] = rt
	}
	p.table.Store(next)
	if prev := cur.byKey[key]; prev != nil && prev.pool != pool {
		old = prev.pool
	}
	p.log.Info("route set", "app", key.App, "env", key.Env, "service", key.Service,
		"release", pool.Release(), "hosts", strings.Join(hosts, ","), "healthy", pool.Healthy())
	return old, nil
}

// RemoveRoute removes key's route and returns its pool (nil if none), which
// the caller should Drain.
func (p *Proxy) RemoveRoute(key RouteKey) (old *Pool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	prev := cur.byKey[key]
	if prev == nil {
		return nil
	}
	p.table.Store(cur.without(key))
	p.log.Info("route removed", "app", key.App, "env", key.Env, "service", key.Service,
		"release", prev.pool.Release())
	return prev.pool
}

// without returns a copy of t without key's route.
func (t *table) without(key RouteKey) *table {
	next := &table{byHost: maps.Clone(t.byHost), byKey: maps.Clone(t.byKey)}
	if prev := t.byKey[key]; prev != nil {
		for _, h := range prev.hosts {
			delete(next.byHost, h)
		}
		delete(next.byKey, key)
	}
	return next
}

// Route returns key's current pool and hosts (nil, nil if not routed).
func (p *Proxy) Route(key RouteKey) (*Pool, []string) {
	rt := p.table.Load().byKey[key]
	if rt == nil {
		return nil, nil
	}
	return rt.pool, slices.Clone(rt.hosts)
}

// Routes returns every route, sorted by key.
func (p *Proxy) Routes() []RouteInfo {
	t := p.table.Load()
	out := make([]RouteInfo, 0, len(t.byKey))
	for _, rt := range t.byKey {
		out = append(out, RouteInfo{Key: rt.key, Hosts: slices.Clone(rt.hosts), Pool: rt.pool})
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
		ctr = &counters{}
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
func applyOptions(w http.ResponseWriter, r *http.Request, o *RouteOptions) bool {
	if o.RedirectHTTPS && r.TLS == nil {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusPermanentRedirect)
		return false
	}
	if o.MaxBodyBytes > 0 {
		if r.ContentLength > o.MaxBodyBytes {
			writePage(w, r, http.StatusRequestEntityTooLarge, "Request too large",
				"The request body is larger than this app accepts ("+strconv.FormatInt(o.MaxBodyBytes, 10)+" bytes).")
			return false
		}
		if r.ContentLength < 0 { // streamed: cut it at the limit
			r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodyBytes)
		}
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
