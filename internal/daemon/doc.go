// Package daemon is berth's one composition root: it reads the server's
// configuration, opens the store, connects to the engine, restores routes,
// and runs the proxy listener, the API listener and the reconcile loop in
// one errgroup until its context ends.
//
// Invariants:
//   - Routes are restored from the store and the containers found by
//     label, health-checked again, before the proxy listener opens.
//   - Stopping the daemon never stops app containers.
package daemon
