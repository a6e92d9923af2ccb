// Package engine defines the Engine interface through which berth runs
// containers, and the engine-neutral types that cross it.
//
// Invariants:
//   - This package imports no Docker package: backends (engine/docker, later
//     engine/swarm) translate to and from these types.
//   - Every container berth creates carries the labels LabelApp, LabelEnv,
//     LabelService and LabelRelease; berth finds its containers by those labels
//     alone, so state can always be rebuilt from the engine after a restart.
//   - Errors that callers act on are the sentinels below, wrapped with context.
package engine
