// Package docker is berth's single-host engine backend, on the official
// Docker Go client.
//
// The client is github.com/docker/docker v28 with API version negotiation
// on: it speaks the highest API version both sides know, so the same
// binary drives Debian's Engine 20.10 (API 1.41) and current engines.
// Nothing here needs a feature newer than API 1.41.
//
// Invariants:
//   - Every container this backend creates carries engine.LabelManaged,
//     and Watch reports only such containers.
//   - Containers join their app network at creation, so their address
//     there is known as soon as they start; the proxy dials that address,
//     never a published port.
//   - Engine errors are wrapped with what was being done and mapped onto
//     engine's sentinels (ErrNotFound, ErrImageNotFound,
//     ErrRegistryDenied, ErrConflict).
//   - Watch owns one goroutine per call, which ends (closing the channel)
//     with its context; after a broken stream it sends EventResync only
//     once the engine has accepted a new subscription.
//   - EnsureNetwork calls on one Backend are serialised: Engine 20.10
//     creates two networks of one name when asked twice at once.
//   - A network the backend creates gets the lowest subnet of its pool
//     (Options.Networks, 10.200.0.0/16 in /24s by default) that overlaps
//     no network of the engine and no route of the host, not one of the
//     engine's default-address-pools (about 30 networks). Nothing about
//     it is stored: the engine's networks are the record, so a network
//     keeps its subnet for life, across restarts of berth and changes of
//     the pool. The engine refuses an overlapping subnet, so processes
//     racing for one retry with the next.
package docker
