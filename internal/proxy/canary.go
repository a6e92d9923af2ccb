package proxy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
)

// CanaryCookie is the cookie that keeps a client on one side of a canary
// split. It holds a random client id that the proxy hashes: the same id
// always lands in the same bucket, so a client stays on the release it
// first got for as long as the canary runs, and raising the weight only
// moves clients from live to canary, never back.
const CanaryCookie = "berth_canary"

// canaryCookieMaxAge is how long a browser keeps its client id (30 days).
const canaryCookieMaxAge = "2592000"

// canaryBuckets is the resolution of the split: a client id hashes to one
// of canaryBuckets buckets and the canary gets those below weight% of them.
const canaryBuckets = 10000

// ErrNotRouted is returned (wrapped) when a canary is set on a route key
// that has no route.
var ErrNotRouted = errors.New("not routed")

// canary is the second slot of a route: a pool and the share of clients
// it gets. It is immutable, like the route holding it.
type canary struct {
	pool   *Pool
	weight uint32 // percent of clients, 0..100
}

// canaryBucket hashes a client id to [0, canaryBuckets): FNV-1a over the
// bytes, then a 64-bit finaliser so that ids differing in one character
// spread evenly. It does not allocate.
func canaryBucket(id string) uint32 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h % canaryBuckets)
}

// inCanary reports whether the client id belongs to the canary's share
// at weight percent.
func inCanary(id string, weight uint32) bool {
	return canaryBucket(id) < weight*(canaryBuckets/100)
}

// choose returns the pool for client id: the canary's when the id falls in
// its share and the canary has a healthy target, live otherwise (a canary
// without a healthy target gets no traffic).
func (c *canary) choose(id string, live *Pool) *Pool {
	if inCanary(id, c.weight) && c.pool.Healthy() > 0 {
		return c.pool
	}
	return live
}

// cookieValue returns the value of the cookie name in h's Cookie headers
// ("" when absent) without allocating.
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// validClientID accepts the ids the proxy hands out, and any other short
// token of cookie-safe characters (a client may bring its own).
func validClientID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if b <= ' ' || b >= 0x7f || b == ';' || b == ',' || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// canaryClient returns r's client id from its CanaryCookie, or, for a
// client without one, a new random id that it sets with Set-Cookie on w.
// With the cookie present it does not allocate.
func canaryClient(w http.ResponseWriter, r *http.Request) string {
	if id := cookieValue(r.Header, CanaryCookie); validClientID(id) {
		return id
	}
	var b [8]byte
	n := rand.Uint64()
	for i := range b {
		b[i] = byte(n >> (8 * i))
	}
	id := hex.EncodeToString(b[:])
	c := CanaryCookie + "=" + id + "; Path=/; Max-Age=" + canaryCookieMaxAge + "; HttpOnly; SameSite=Lax"
	if r.TLS != nil {
		c += "; Secure"
	}
	w.Header().Add("Set-Cookie", c)
	return id
}

// SetCanary gives key's route a second pool, the canary, that gets weight
// percent of clients (sticky per client by CanaryCookie) while it has a
// healthy target; the route's own pool keeps the rest. It publishes the
// change in one atomic table swap and returns the canary pool the route
// had before (nil if none, or if it is pool itself), which the caller
// should Drain (Switch of the canary slot does both). The route must exist (ErrNotRouted); pool must not be the
// route's live pool.
func (p *Proxy) SetCanary(key RouteKey, pool *Pool, weight int) (old *Pool, err error) {
	if pool == nil {
		return nil, fmt.Errorf("canary of %s: nil pool", key)
	}
	if weight < 0 || weight > 100 {
		return nil, fmt.Errorf("canary of %s: weight %d is not a percentage (0-100)", key, weight)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	prev := cur.byKey[key]
	if prev == nil {
		return nil, fmt.Errorf("canary of %s: the route does not exist: %w", key, ErrNotRouted)
	}
	if prev.pool == pool {
		return nil, fmt.Errorf("canary of %s: the pool of release %s is the live one", key, pool.Release())
	}
	rt := prev.withCanary(&canary{pool: pool, weight: uint32(weight)})
	byKey := maps.Clone(cur.byKey)
	byKey[key] = rt
	p.table.Store(build(byKey))
	if prev.canary != nil && prev.canary.pool != pool {
		old = prev.canary.pool
	}
	p.log.Info("canary set", "app", key.App, "env", key.Env, "service", key.Service,
		"release", pool.Release(), "live_release", prev.pool.Release(), "weight", weight, "healthy", pool.Healthy())
	return old, nil
}

// RemoveCanary takes the canary off key's route in one atomic table swap
// (its clients go back to the live pool) and returns the canary pool (nil
// if none), which the caller should Drain.
func (p *Proxy) RemoveCanary(key RouteKey) (old *Pool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load()
	prev := cur.byKey[key]
	if prev == nil || prev.canary == nil {
		return nil
	}
	byKey := maps.Clone(cur.byKey)
	byKey[key] = prev.withCanary(nil)
	p.table.Store(build(byKey))
	p.log.Info("canary removed", "app", key.App, "env", key.Env, "service", key.Service,
		"release", prev.canary.pool.Release())
	return prev.canary.pool
}

// Canary returns key's canary pool and its weight (nil, 0 when none).
func (p *Proxy) Canary(key RouteKey) (*Pool, int) {
	rt := p.table.Load().byKey[key]
	if rt == nil || rt.canary == nil {
		return nil, 0
	}
	return rt.canary.pool, int(rt.canary.weight)
}

// withCanary returns a copy of rt with canary c (nil: none).
func (rt *route) withCanary(c *canary) *route {
	n := *rt
	if rt.opts != nil {
		n.opts = &n.raw
	}
	n.canary = c
	return &n
}
