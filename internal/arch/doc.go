// Package arch holds no code: its test keeps the package layering of
// CONVENTIONS.md honest (requests flow down, events flow back up as
// return values and channels, never as imports).
//
// Invariants:
//   - Every package under internal/ has a rule in layering_test.go; a new
//     package without one fails the test.
//   - A rule states what a package may import directly; rules for
//     packages that do not exist yet hold the moment they appear.
//   - The test runs in -short mode too: it is one go list.
package arch
