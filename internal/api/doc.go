// Package api is berth's HTTP API under /api/v1/: JSON handlers that
// return errors, one error writer that maps them to a status and a JSON
// body and logs them once, and bearer-token authentication and
// role-and-scope authorization on every route.
//
// Invariants:
//   - Every route is in one table (routes.go) with the permission it
//     needs (perms.go); perms_test.go holds the table against its own
//     statement of who may call each route. Only /healthz, the push
//     webhook (signed) and the sign-in need no credentials; /metrics needs a viewer
//     token or an address of Options.MetricsAllow.
//   - Every other route requires "Authorization: Bearer <token>": the
//     admin token (compared in constant time) or a token of the store,
//     found by its SHA-256, which is all the store keeps. A missing,
//     wrong, revoked or expired token is a 401 saying which and what to
//     do; a token whose role or scope does not cover the request is a
//     403 saying what it has and what it would need.
//   - Without a bearer token, a session cookie of a signed-in user
//     (sessions.go) authenticates as a principal with the user's role
//     and scope; the store keeps the session secret's SHA-256 and the
//     password's argon2id hash only. A change sent with the cookie
//     needs the X-Berth-CSRF header bound to the session. Sign-in
//     (public, JSON only) is slowed down per (user, address), address
//     and user after failures (ratelimit.go). A token signs in too (the
//     console's token sign-in): its session keeps the token's SHA-256
//     and is checked against the token on every request, so it acts
//     as the token and ends when the token is revoked, expires or (the
//     admin token) is replaced.
//   - A token scoped to apps (and environments) sees only those in
//     listings; the app checked for a deploy is the app deployed (the
//     body must name the path's app).
//   - A deploy or rollback runs on the server's context, not the
//     request's: a client that disconnects stops watching, not deploying.
//   - Long actions stream progress as newline-delimited JSON
//     (dto.StreamEvent), ending with one result event.
//   - The live streams (live.go: status, a deployment's progress) are
//     server-sent events that wait on the store's Changed and the
//     deployer's progress, never on a loop that reads the store. Each
//     look admits the request again, so a stream ends (with "ended")
//     once its session or token no longer works.
//   - Every change, every refusal and every webhook that starts a build
//     is recorded once in the audit log (audit.go), by the route table's
//     guard: the table names each changing route's action and the body
//     fields it keeps. A secret's value, a password, a key or a token is
//     never kept. A streamed change is recorded when its deployment ends.
//   - What travels is package dto's, never a store or deploy type: each
//     handler converts at the edge (convert.go), so the store's JSON is
//     not the wire format and a client links none of the server.
package api
