// Package e2e tests berth end to end against the real Docker engine: a
// daemon started in-process on loopback, the example-style test image
// built FROM scratch, and load generators that count every request.
//
// Without an engine the tests skip, unless BERTH_REQUIRE_DOCKER=1 (CI),
// where a missing engine fails them.
package e2e
