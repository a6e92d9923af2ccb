// Package proxy is berth's reverse proxy: it routes HTTP requests by Host
// header, then by the longest matching path prefix, to pools of app
// containers, checks their health, and switches a service from one
// release's pool to the next without failing a request. Certificates are
// not its business: package certs chooses them, told the routes through
// Options.Certs.
//
// Invariants:
//
//   - The routing table is an immutable snapshot behind an atomic.Pointer.
//     Writers (SetRoute, RemoveRoute) serialise on a mutex, copy the table,
//     change the copy and publish it in one atomic store; readers (every
//     request) take no lock: one atomic load and one map read per request
//     (plus a scan of the host's prefixes, longest first, only for hosts
//     that have path routes).
//   - A (host, path prefix) pair belongs to at most one RouteKey (app, env,
//     service) at a time; a second claim fails with ErrHostTaken. Prefixes
//     match whole segments: /api matches /api and /api/x, not /apix.
//   - Maintenance mode and error pages live with the counters of an app
//     environment, so route swaps keep them.
//   - The certificate store (Options.Certs, a certs.Store in the daemon)
//     keeps its own copy of the routes: the proxy asks it to check a
//     route's certificate files before the swap (CheckCert; its error
//     refuses the route) and gives it every route's hosts and files
//     after each swap that may change them (SetRoutes), under the table
//     lock so that it sees the swaps in order. It never reads the
//     proxy's table or takes its lock.
//   - A Pool is a composition of parts with one job each, in their own
//     files, that do not touch each other's fields (they are handed
//     what they need: the checker publishes through a function, the
//     observer reads the targets' counters): the balancer, targetSet
//     (balancer.go: targets, healthy subset, pick, in flight, retire);
//     the healthChecker (health.go: probes, thresholds, WaitHealthy's
//     wake-ups); the observer, poolStats (stats.go: counters, rates,
//     what Status and Stats show). Pool itself forwards (forward.go,
//     fast_serve.go, lane.go, retry.go) and owns the lifecycle (NewPool,
//     Drain, Close). The fast path's connections to the targets and the
//     client side of its exchange are upstream.Client's, which names a
//     target by its index in the pool (target.idx) and knows no Pool.
//   - A Pool's set of targets never changes after NewPool. Only health
//     changes; the healthChecker hands each new healthy subset to the
//     targetSet, which publishes it as an immutable slice so that
//     picking a target (round robin) and entering or leaving the pool
//     take no lock and allocate nothing.
//   - Every target of a new Pool starts unhealthy and gets traffic only
//     after HealthyThreshold consecutive passing checks. Until then it is
//     probed every ~20ms so a new release is seen healthy quickly
//     (healthChecker).
//   - The no-downtime switch has one owner, Proxy.Switch (switch.go):
//     callers build a new Pool and hand it over; Switch waits until the
//     asked number of its targets is healthy (nothing changes when they
//     are not, in time), swaps it into the route in one atomic table swap
//     (SetRouteOptions, SetCanary, RemoveRoute, RemoveCanary are its
//     steps), and drains the pool it replaced in the background. It
//     returns right after the swap with a Drain whose Done channel says
//     when the old pool is closed and whose Result says how long it
//     waited and how many requests it cut. The Proxy owns every drain
//     goroutine: several drain side by side, each to its own deadline
//     (Draining lists them), and ShutdownDrains waits for them, then cuts
//     what is left (Result.Stopped). A pool swapped out is never routed
//     again. A request that loaded the old table just before the swap
//     either is counted in the old pool's in-flight (and the drain waits
//     for it) or sees the pool retired and is routed again on the new
//     table; it never fails.
//   - A drain does not cut long-lived requests (streams, upgraded
//     connections) when it starts; it cancels them only at its deadline,
//     and reports how many it cut.
//   - A request is sent again only when no byte of a response reached
//     the client (retry.go). A connection that could not be opened
//     (nothing was sent): on another healthy target, whatever the method.
//     A reused keep-alive connection that broke before any response byte
//     (the target closed it as idle): on a fresh connection to the same
//     target, for GET, HEAD, OPTIONS, TRACE or a request with an
//     Idempotency-Key, as net/http replays. A target that failed after the
//     request was sent (reset, closed, no response head within the
//     route's response timeout, cut as unreachable): on another healthy
//     target only for the safe methods (GET, HEAD, OPTIONS, TRACE) with no
//     body and no Upgrade; anything else (POST, PUT, PATCH, DELETE, a
//     body) gets a 502 (504 after the timeout) and is never sent twice.
//     At most maxRetries other targets; counted in PoolStats (Retries,
//     Replays). Every failure of a target but a malformed answer counts
//     as a failed health check of it.
//   - Only a target's failures count against it. A request body read
//     through a clientBody (reqbody.go) remembers how it failed on the
//     client's side (malformed chunks, cut short, stalled past the
//     route's body timeout, over its size limit, reset): such a request
//     is neither counted nor retried, the client gets 400, 408 or 413
//     (499 in the access log when it left). A body of known length up to
//     64 KiB is read whole before a target is picked; chunked and larger
//     ones stream.
//   - A client write timeout bounds every write to a client (the lean
//     server's armWrite, a deadlineWriter on net/http, the loops' tick).
//   - The proxy's own request headers (request id, X-Forwarded-*) are
//     written after hop-by-hop removal; the spoofable scheme and address
//     headers a client sends are dropped. Every path (ReverseProxy, the
//     fast client, the lane) takes both rules from package wire
//     (wire.Field, wire.Forwarded). A response header value with a
//     control character is a malformed answer (502).
//   - A failed probe is confirmed at once (probed again after ~20ms, not
//     an interval later). When a target leaves rotation because it could
//     not be reached (probe timeout, refused, reset; not a bad status),
//     the requests waiting on it for a response head are cut: the safe
//     ones retried elsewhere, the others answered 502. A response under
//     way is never cut for it.
//   - Canary = two slots: a route holds its live pool and optionally a
//     canary pool with a weight (SetCanary). A client's id, from the
//     berth_canary cookie (set when absent), is hashed to one of 10,000
//     buckets; buckets below weight% go to the canary while it has a
//     healthy target, everything else to live. The choice is one cookie
//     scan and one hash, no allocation when the cookie is present.
//     Promoting is a Switch of the live slot to the canary's pool (the
//     route drops its canary and the live pool drains); a Switch of the
//     canary slot sets, replaces or (nil pool) removes the canary and
//     drains the one it replaced. Each is one atomic table swap.
//   - Counters (served, failed) are kept per app/env in the Proxy, not in
//     pools, so they survive swaps; they only grow.
//   - Request statistics (responses by status class, a latency histogram,
//     upstream errors by kind, a one-minute rate window per target) are
//     fixed arrays of atomics made with the Pool (poolStats and the
//     target's counters): recording a request takes no lock, no map
//     lookup and no allocation. Readers (Stats, Status, the metrics
//     collector) load them when asked.
//   - Every proxied request carries an X-Request-Id to the target and back
//     to the client: the client's when it is sane, else a new one.
//   - The access log is formatted in the request's goroutine into a memory
//     buffer that its own goroutine writes out; a slow disk drops lines
//     (counted), it never holds up a request.
//   - Every goroutine is owned by a Pool (its healthChecker runs one per
//     target), stopped by Close or Drain, which wait for them, or by the Proxy's
//     set of background drains (ShutdownDrains waits for them).
//   - The plain-HTTP listener is served by Server (serve_h1*.go), one
//     goroutine per connection. A connection reuses one *http.Request, its
//     URL and Header map, and one ResponseWriter for all its requests:
//     handlers must not keep them (or header slices) after ServeHTTP
//     returns. r.Context() is the connection's context, cancelled when the
//     client goes away (noticed by a background read started only for
//     requests running longer than 50ms) or the connection closes, not
//     when the handler returns. A request body is its own object: read
//     after the handler returned, it fails. The head parser
//     (wire.FillRequest) accepts what net/http accepts
//     (wire.FuzzParseRequestHead) but the request smuggling forms, which
//     it refuses. Shutdown closes idle connections at once
//     and active ones after their response. The watch loop goroutine is
//     owned by the Server, from the first Serve to Shutdown/Close.
//   - The lane (lane*.go): a Server given the Proxy (ServerOptions.Lane)
//     serves the requests that need nothing but passing on without an
//     *http.Request, a header map or a ResponseWriter: GET and HEAD over
//     HTTP/1.1 or 1.0 with no body, no Expect, Upgrade, TE, Trailer or
//     Pragma, at most a Connection of keep-alive or close, to a route with
//     no canary or redirect, not in maintenance. Everything
//     else takes the handler path, from the same head. The lane answers as
//     the handler path does (but request header names reach the app as the
//     client wrote them): the same target choice, retries, statistics,
//     access log line, request id and hop-by-hop rules (TestLane_* compare
//     both over raw bytes, and the whole package's tests run behind the
//     lane too); it hands the handler path's ResponseWriter the responses
//     it does not frame itself (chunked, until close) and the error pages.
//   - Event loops (evloop*_linux.go; ServerOptions.EventLoops, with the
//     lane): epoll loops own the client connections that wait for a
//     request, with their sockets out of Go's netpoller (h1.Fd), and
//     answer the lane's requests whose answer is whole within a
//     millisecond of its head (evGrace), framed with Content-Length or
//     chunked (or bodiless) and at most 64 KiB, over an idle target
//     connection, through the lane's own code. Anything else goes to a
//     goroutine that continues the request where the loop left it (the
//     lane's retries, failure accounting and error pages apply): an
//     answer still short after the grace (a stream) reaches the client
//     as it comes from there. The connection comes back to its loop when
//     it next waits after a lane request. A loop never blocks on a
//     client: what a socket does not take waits for EPOLLOUT, the
//     connection active meanwhile, and closes when the client takes none
//     of it for the route's write timeout. A loop's tick enforces the
//     idle, header and write timeouts and cuts requests whose client hung
//     up; a client that shut its side is closed once answered, as on a
//     goroutine. An idle connection holds no buffer or request structure.
//     The whole package's tests run behind the loops too (testServerKind
//     "loop").
package proxy
