// Package deploy turns a desired app definition into running containers
// behind the proxy, without dropping a request.
//
// Shape: Plan is pure (desired release, observed containers → what to
// start and what to retire); the Deployer executes plans against an
// engine.Engine, the store and the proxy.
//
// Invariants:
//   - One deployment at a time per app and environment: a second one is
//     refused with ErrBusy, never interleaved.
//   - The store is the commit point. A release becomes live in one store
//     transaction (store.Activate) after its containers are healthy and
//     before the proxy is switched; after a crash, the daemon rebuilds
//     routes from the store's live release, so a kill at any instant
//     leaves one consistent state.
//   - The live release is never touched until the new one is healthy:
//     a release that cannot go live is recorded as failed, its containers
//     are removed, and traffic never left the old release.
//   - Routed services switch with an atomic pool swap; the old pool is
//     drained (in-flight requests finish, up to the drain timeout) before
//     its containers get SIGTERM and their stop grace period.
//   - berth never changes a volume, never creates an external one, and
//     removes one only when the user confirmed it by name in a removal
//     (never an external one): a release that mounts a missing external
//     volume, or an existing volume whose driver or options differ from
//     the file, is refused before anything changes (volumes.go).
//   - Removing an app environment (remove.go) is a deployment too: it
//     holds the lock, checks everything before it changes anything, and
//     the store's removal record is its commit point; its routes leave
//     the proxy and drain before its containers stop.
//   - A bind mount of the project's files mounts the copy its release
//     names (content-addressed, kept while a kept release names it), so
//     a rollback restores the files too; a host path is mounted only
//     under a bind root, never the engine's socket unless allowed, and
//     every refused mount is listed at once (binds.go).
//   - A Compose secret's content is never in a stored definition, a
//     container's configuration or label, a log line or an API answer:
//     it is sealed into its release by the store and written into the
//     containers as files (secrets.go).
package deploy
