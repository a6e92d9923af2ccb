// Package store is berth's embedded state store: apps and their
// environments, releases, deployments and a few daemon settings, kept in
// one bbolt file, DATA_DIR/berth.db.
//
// # Why bbolt
//
// bbolt (go.etcd.io/bbolt) is pure Go, so berth stays one static binary
// with no cgo. The whole state is one file, which is easy to back up and
// to reason about. Every write is an ACID transaction whose commit
// fsyncs before it returns, so berth killed at any instant reopens with
// the last committed state, never half of a transaction. berth's access
// pattern is tiny key/value records read by key plus small ordered range
// scans (releases of one environment, deployments newest first): no SQL,
// no query planner needed. bbolt allows one writer at a time, which is
// plenty for a control plane whose writes are a handful per deploy. The
// file is locked while open, so two berth servers cannot share a data
// directory; the second fails within a second with a clear message.
//
// Every write goes through Store.update, which closes the channel of
// Changed once the write committed (changes.go): watchers (the
// console's live pages) wait for a change instead of polling.
//
// # Layout
//
// Values are JSON; integer keys are big-endian uint64 so byte order is
// numeric order.
//
//	apps/<app>/info                       {"created_at": ...}
//	apps/<app>/envs/<env>/live            id of the live release (absent when none)
//	apps/<app>/envs/<env>/canary          the running Canary (absent when none)
//	apps/<app>/envs/<env>/scales          service → Scale set by berth scale (absent when none)
//	apps/<app>/envs/<env>/removed         Removal, while the env is removed (absent otherwise)
//	apps/<app>/envs/<env>/releases/<id>   Release (with its config snapshot)
//	apps/<app>/envs/<env>/config          current configuration variables
//	apps/<app>/envs/<env>/secrets         current secrets, name → ciphertext
//	apps/<app>/envs/<env>/release_secrets/<id>  a release's secrets snapshot
//	deployments/<id>                      Deployment (id from a global sequence)
//	deployments_by_app/<app>\x00<id>      env, to list one app's deployments newest first
//	running/<id>                          empty: the deployments still running
//	tokens/<name>                         Token: role, scope, times (never the token)
//	tokens_by_hash/<sha256>               name: a token is found by its hash only
//	users/<name>                          User: role, scope, argon2id hash (never the password)
//	sessions/<sha256>                     Session: a session is found by its secret's hash only
//	meta/schema_version                   "1"
//	meta/<key>                            daemon settings (Get/Put)
//
// # Invariants
//
//   - A release's content (app, env, services, images, spec) is immutable
//     once created. Only Status, Reason, LiveAt and EndedAt ever change,
//     and only through FailRelease, Activate and the canary calls.
//   - At most one release per app environment is live. The env's "live"
//     key is the single source of truth, and Activate flips the new
//     release to live and the old one to superseded or rolled_back in
//     one transaction, so no reader and no crash ever sees two or none
//     half-way.
//   - Release status moves pending → live | failed | canary; canary →
//     live (promote, through Activate) | rolled_back (EndCanary); live →
//     superseded | rolled_back; superseded | rolled_back → live (a
//     rollback). A failed release never becomes live. Removing the
//     environment (MarkRemoved) turns live and canary into removed and
//     pending into failed, and marks every release RemovedAt; removed is
//     final and a RemovedAt release is never a rollback target.
//   - A failed release refused before it started keeps no definition
//     (DropDefinition); PruneFailed deletes old failed releases.
//   - A Scale is not a release: it overrides a service's replica count
//     for as long as the file's deploy.replicas stays what it was when
//     the service was scaled; removing the environment drops them all.
//   - At most one canary per app environment; its record and its
//     release's status change in the same transaction.
//   - Release IDs are per app environment, start at 1, and come from the
//     releases bucket's bbolt sequence; deployment IDs come from a global
//     sequence. Both are monotonic and never reused, even if records are
//     later pruned.
//   - The deployments bucket and its two indexes (deployments_by_app,
//     running) are written in the same transaction, so they always agree.
//   - Secret values are stored only as XChaCha20-Poly1305 ciphertext under
//     the key in DATA_DIR/secret.key (mode 0600), bound to app, env and
//     name; no Release or listing carries a value.
//   - API tokens are kept only as their SHA-256 (tokens_by_hash, written
//     with tokens/<name> in one transaction); no call takes or returns a
//     token itself. Like registries and notifications, the token
//     buckets are created by their first write, so they need no
//     migration.
//   - Scheduled jobs keep, per app environment and job, their schedule
//     state and their newest MaxJobRuns runs (jobs.go), in buckets made
//     by their first write: no migration.
//   - meta/schema_version records the layout version (1). Open runs the
//     migrations from the file's version up to the current one in a
//     single transaction, and refuses a file written by a newer berth.
package store
