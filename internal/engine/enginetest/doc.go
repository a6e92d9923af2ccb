// Package enginetest holds the contract every engine.Engine backend must
// pass (Run), the test image the suites deploy (BuildTestImage, from
// ./testapp: a static Go web server in a FROM scratch image), and Fake, an
// in-memory engine for unit tests of the packages above the engine.
//
// Invariants:
//   - The contract exercises only the engine.Engine interface, so the
//     single-host and Swarm backends (and Fake) are held to the same
//     behaviour. Parts that need real processes and networking are
//     skipped with WithoutRuntime, which is how Fake runs it.
//   - Everything Run creates carries a unique berth.app label and is
//     removed when the test ends.
//   - BuildTestImage rebuilds only when testapp's binary changed (the
//     image carries the binary's hash as a label).
package enginetest
