// Package acmetest runs a real ACME server for tests: Let's Encrypt's
// pebble, on loopback, validating challenges for real against the
// listeners the test names, with every host name resolving to 127.0.0.1
// through a small DNS server of its own.
//
// Invariants: pebble is found as $BERTH_PEBBLE, on PATH, or in the
// repository's .cache/bin (scripts/ensure-test-deps installs it there);
// when it is missing a test skips, or fails when BERTH_REQUIRE_DOCKER=1
// (CI). Everything a Pebble starts is stopped by t.Cleanup.
package acmetest
