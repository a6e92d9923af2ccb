// Package webhook verifies and reads push webhooks from GitHub, GitLab,
// Gitea/Forgejo and a generic HMAC form (X-Berth-Signature), and
// remembers delivery IDs so a redelivered push is not built twice.
//
// It is pure: it imports only the standard library and does no I/O beyond
// the headers and body it is given.
//
// Invariants:
//   - Every secret comparison is constant-time (hmac.Equal,
//     subtle.ConstantTimeCompare); an empty secret verifies nothing.
//   - Verify either returns a nil error, and the body is authentic, or one
//     of the sentinel errors (ErrNoSecret, ErrMissingSignature,
//     ErrBadSignature, ErrUnknownProvider), wrapped with what to configure.
//   - Parse never returns a nil error for anything but a branch push with
//     a well-formed commit ID (hex) and a git-legal branch name, so both
//     can be handed to git safely. Pings, tag pushes, branch deletions and
//     other events are ErrNotAPush, wrapped with the reason.
//   - Deduper is bounded (entries and age) and safe for concurrent use;
//     its clock is injected.
package webhook
