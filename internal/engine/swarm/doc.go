// Package swarm is berth's Docker Swarm engine backend, on the official
// Docker client, talking to one manager's API (API 1.41, Engine 20.10, or
// newer).
//
// # Two shapes
//
// engine.Engine is container-shaped. This backend implements it by
// mapping each "container" onto a Swarm service of one replica: the
// container ID is the service ID, its state, exit code and addresses are
// those of the service's newest task, StopContainer scales to zero,
// StartContainer to one, RemoveContainer removes the service. That is
// enough for the container contract's engine-side parts
// (enginetest.Run(..., WithoutRuntime())) to pass against a real swarm,
// and it is how one-off commands and stateful services can run, but it
// is the wrong shape for web services: N one-replica services give up
// Swarm's rolling updater, its rollback to PreviousSpec, its spread over
// nodes and its rescheduling of a lost node's tasks.
//
// So berth runs each app/environment/service as ONE Swarm service (a
// workload) of N replicas whose tasks are the instances, through
// engine.Workloads, which this backend implements:
//
//   - A release changes the workload's spec (image, env, labels with
//     LabelApp/Env/Service/Release, resources…) through ApplyWorkload;
//     update_config (parallelism, delay, order start-first,
//     failure_action, monitor, max_failure_ratio) and rollback_config,
//     placement (constraints, spread preferences, max_replicas_per_node),
//     resources (limits and reservations), restart_policy, secrets and
//     networks come from Compose's deploy section (engine.WorkloadSpec).
//     An unchanged spec is not re-applied (a hash label), since every
//     update replaces the PreviousSpec RollbackWorkload restores.
//   - berth follows a rollout task by task (ListInstances,
//     InspectWorkload) and gates it on its own health checks: when a new
//     task does not get healthy behind berth's proxy, berth calls
//     RollbackWorkload (Swarm's PreviousSpec) or, for an older release,
//     applies that release's recorded spec. Swarm's own failure_action
//     rollback catches tasks that exit or fail the engine-run check.
//   - Secrets: EnsureSecret stores berth's secrets as Swarm secrets under
//     content-hashed names (Swarm secrets are immutable), mounted as
//     files under /run/secrets.
//   - Nodes: ListNodes and SetNodeAvailability (drain, pause, active)
//     serve `berth nodes`.
//
// # Routing: host-mode ports on dynamic published ports
//
// berth's proxy sends traffic to the tasks themselves, health-checked by
// berth. Every workload with a Port publishes that container port in
// host mode with PublishedPort 0: Swarm picks a free port per task on the
// task's node (a fixed host port would let only one task per node bind
// it, and would block start-first updates with "host-mode port already
// in use"). ListInstances reads the port from the task's status
// (Task.Status.PortStatus) and the address from its node's status
// (Node.Status.Addr, or the manager address when that shows 0.0.0.0), and
// reports it as Instance.Addr, "ip:port", which berth's proxy, running on
// a manager node as the teams ran HAProxy, dials directly. Swarm's
// virtual IPs and ingress routing mesh are never used (endpoint mode
// dnsrr: they need IPVS, which is not everywhere, and they hide task
// health). Tasks also join their app/environment's attachable overlay
// (EnsureNetwork), where services find each other by name (DNS
// round-robin) and one-off tasks reach them.
//
// The proxy keeps its pool equal to the instances that are running and
// wanted running (Instance.Serving): an instance whose desired state is
// no longer "running" (replaced, scaled in, drained, its node down)
// leaves the pool at the next poll, usually before Swarm has stopped it;
// a connection refused by a task that stopped sooner is retried on
// another task by the proxy. The lab tests (rollout_test.go) measure it:
// 6 replicas rolled, rolled back, auto-rolled back and drained under load
// with 0 failed requests.
//
// # Removing a service
//
// Engine 20.10's swarmkit crashes the manager when a service is removed
// while the task reaper deletes one of its tasks (remove.go): removal
// scales to zero, waits until the tasks settle, then removes, and
// concurrent removals of one service share one attempt.
//
// Still missing: an instance kind of Watch event (ListInstances is
// polled), configs, and one-off commands as replicated-job services (API
// 1.41), since Attach does not reach a task through a manager.
//
// # Invariants
//
//   - Every service this backend creates carries engine.LabelManaged, on
//     the service and on its tasks' containers, and Watch reports only
//     such services.
//   - With a server id (Options.ServerID), every service (and its tasks'
//     containers), overlay, volume, secret and config it creates carries
//     it as engine.LabelServer; another server's objects are never
//     listed, watched, updated or removed, and a name another server
//     holds is refused with engine.ErrForeign naming it (owner.go).
//   - Services use endpoint mode dnsrr, overlay networks, and host-mode
//     ports published on dynamic ports only; Instance.Addr is the task's
//     node address and published port, Addresses its overlay addresses.
//   - A service is removed only after its tasks settled (remove.go), and
//     never twice at once.
//   - Watch polls (the API has no task events), takes its first listing
//     before it returns, and sends EventResync after a failed poll once
//     polls succeed again; its goroutine ends, closing the channel, with
//     its context.
//   - Engine errors are wrapped with what was being done and mapped onto
//     engine's sentinels; Attach and ResizeTTY wrap errors.ErrUnsupported.
//   - Images, volumes and builds are node-local: those calls act on the
//     manager berth talks to, through a docker.Backend sharing this
//     backend's client (local.go), the one place that code lives.
package swarm
