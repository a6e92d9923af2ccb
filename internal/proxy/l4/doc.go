// Package l4 is berth's TCP and UDP forwarder for the host ports a
// service publishes (Compose ports:). One Listener holds one host address
// for the whole life of the service, across releases, so a deploy never
// unbinds the port: it forwards each new connection (TCP) or flow (UDP)
// to a target of its current Pool, and a deploy swaps in the new
// release's pool in one atomic step (Swap returns the old one), then
// drains the old pool (Drain) while its open connections finish, cutting
// what is still open at the drain timeout.
//
// Invariants:
//   - A live pool is never mutated: a change of targets is a new Pool.
//   - Every connection and flow belongs to the pool that was current
//     when it began, and counts in that pool's and the listener's
//     counters: served when it reached a target, failed when no target
//     took it, cut when a drain closed it.
//   - Every goroutine belongs to a Listener and ends when it is closed.
//
// It imports nothing of berth's: the deploy package decides which
// targets are healthy and when to swap.
package l4
