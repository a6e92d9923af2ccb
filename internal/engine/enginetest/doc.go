// Package enginetest holds the contract every engine.Engine backend must
// pass (Run), and the test image the suites deploy (BuildTestImage, from
// ./testapp: a static Go web server in a FROM scratch image).
//
// Invariant: the contract exercises only the engine.Engine interface, so
// the single-host and Swarm backends are held to the same behaviour.
package enginetest
