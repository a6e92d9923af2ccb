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
//   - A running deployment's progress can be followed from its first
//     line (FollowDeployment) until its lock is released; its record
//     (store.Deployment.Timeline) has every line before then, so a
//     watcher that comes late or stays past the end misses none.
//   - The store is the commit point. A release becomes live in one store
//     transaction (store.Activate) after its containers are healthy and
//     before the proxy is switched; after a crash, the daemon rebuilds
//     routes from the store's live release, so a kill at any instant
//     leaves one consistent state. What a deployment does after the
//     commit point (the new containers' restart policy) converge does
//     again when it finds it undone: the containers it keeps get their
//     service's restart policy.
//   - The live release is never touched until the new one is healthy:
//     a release that cannot go live is recorded as failed, its containers
//     are removed, and traffic never left the old release.
//   - Routed services switch through proxy.Switch (wait healthy, one
//     atomic swap, the old pool drains in the proxy's background), and
//     published ports with one listener swap each. Once the switch is
//     done the deployment is done and releases its lock: the old release
//     drains in the background and each service's old containers get
//     SIGTERM and their stop grace period only after that service's old
//     pools have drained (in-flight requests finish, up to the drain
//     timeout). That retirement is a goroutine the Deployer owns (Close
//     stops it) and owns those containers: no later plan, rollback or
//     converge stops or routes them (retire.go); its outcome is an event
//     of the app environment. Containers a retirement did not get to
//     (berth stopped) belong to a release that is not live, and converge
//     removes them at the next start.
//   - A scale (scale.go) holds the same lock and is no release: it
//     changes the live release's replica counts, scale-out through a
//     switch to a successor pool once the new replicas are healthy,
//     scale-in through a switch to a pool without the replicas that go,
//     which a retirement then drains and stops. Its count holds for
//     later releases while their file keeps the deploy.replicas it was
//     made over (scale_plan.go); a file that changes it wins. On a
//     cluster it changes the workload's replica count instead: the tasks
//     Swarm will remove are out of rotation and drained before it is told
//     (scale_cluster.go), and only tasks that ended by themselves are
//     reported as failures (cluster_events.go).
//   - berth never changes a volume, never creates an external one, and
//     removes one only when the user confirmed it by name in a removal
//     (never an external one): a release that mounts a missing external
//     volume, or an existing volume whose driver or options differ from
//     the file, is refused before anything changes (volumes.go).
//   - Removing an app environment (remove.go) is a deployment too: it
//     holds the lock, checks everything before it changes anything, and
//     the store's removal record is its commit point; its routes leave
//     the proxy and it waits for their drains, and for old releases still
//     draining, before its containers stop: a teardown, not a switch.
//   - A bind mount of the project's files mounts the copy its release
//     names (content-addressed, kept while a kept release names it), so
//     a rollback restores the files too; a host path is mounted only
//     under a bind root, never the engine's socket unless allowed, and
//     every refused mount is listed at once (binds.go).
//   - A Compose secret's content is never in a stored definition, a
//     container's configuration or label, a log line or an API answer:
//     it is sealed into its release by the store and written into the
//     containers as files (secrets.go).
//   - Scheduled jobs (jobs_*.go): PlanJobs is pure (injected now, no
//     I/O); the Scheduler's Run owns its loop and every run's goroutine
//     and waits for them. A run is built by oneOffSpecOf, as berth run's,
//     from the live release read when it starts, and records that
//     release. A slot is recorded before its run starts (no double run
//     after a crash); however many slots passed while berth was down, a
//     job runs once. Every run ends recorded: succeeded, failed,
//     timed_out (stopped at its timeout), replaced, or interrupted (berth
//     stopped, or found it left at start), and its container is removed.
package deploy
