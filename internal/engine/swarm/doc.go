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
// So berth should run each app/environment/service as ONE Swarm service
// (a workload) of N replicas whose tasks are the instances:
//
//   - A release changes the workload's spec (image, env, labels with
//     LabelRelease) through ServiceUpdate; update_config (parallelism,
//     delay, order start-first, failure_action, monitor,
//     max_failure_ratio) and rollback_config come from Compose's deploy
//     section. berth follows the rollout task by task (ListInstances,
//     InspectWorkload) and gates it on its own health checks: when a new
//     task does not get healthy in berth's proxy, berth calls
//     RollbackWorkload (Swarm's PreviousSpec) or, for an older release,
//     applies that release's recorded spec.
//   - Scaling (berth scale, autoscale) is ScaleWorkload: replicas only.
//   - Every workload joins its app/environment's attachable overlay
//     network (EnsureNetwork creates overlays here) with endpoint mode
//     dnsrr; berth's proxy runs on a manager, joined to those networks,
//     and sends traffic to task addresses it health-checks itself. Swarm's
//     virtual IPs and routing mesh are never used (they need IPVS, which
//     is not everywhere, and they hide task health). A fixed host-mode
//     published port would block start-first updates; none is used.
//   - Images: a task runs the image named by digest (name@sha256:…, each
//     node pulls it when it lacks it) when the manager has a registry
//     digest for it, else by image ID, which every node must already have
//     (the test lab loads images into every node). A tag alone would make
//     every node try the registry on every start.
//
// # Proposed additions to engine.Engine
//
// A workload-level interface, implemented here today by Backend's
// exported methods and types (WorkloadSpec, UpdatePolicy, Instance,
// WorkloadStatus), to move into package engine as an optional interface
// that deploy and reconcile type-assert:
//
//	type Workloads interface {
//	    ApplyWorkload(ctx, WorkloadSpec) (id string, err error) // create or roll to spec
//	    ScaleWorkload(ctx, name string, replicas uint64) error
//	    RollbackWorkload(ctx, name string) error                // to the previous spec
//	    InspectWorkload(ctx, name string) (WorkloadStatus, error)
//	    ListInstances(ctx, labels map[string]string) ([]Instance, error)
//	    RemoveWorkload(ctx, name string) error
//	}
//
// with Instance (task ID, slot, node, state, desired state, image,
// addresses, error, exit code) as the unit the proxy pools and the event
// stream reports. The single-host backend need not implement it: deploy
// keeps its container-by-container strategies there. Also needed, later:
// an EventInstance kind in Watch (a task's state change, not a
// container's), Nodes (list, drain, activate) for berth nodes, secrets and
// configs (berth's secrets as Swarm secrets), placement, and one-off
// commands as replicated-job services (API 1.41) since Attach does not
// reach a task through a manager.
//
// # Invariants
//
//   - Every service this backend creates carries engine.LabelManaged, on
//     the service and on its tasks' containers, and Watch reports only
//     such services.
//   - Services use endpoint mode dnsrr and overlay networks only; the
//     addresses reported are task addresses on those networks.
//   - Watch polls (the API has no task events), takes its first listing
//     before it returns, and sends EventResync after a failed poll once
//     polls succeed again; its goroutine ends, closing the channel, with
//     its context.
//   - Engine errors are wrapped with what was being done and mapped onto
//     engine's sentinels; Attach and ResizeTTY wrap errors.ErrUnsupported.
//   - Images, volumes and builds are node-local: those calls act on the
//     manager berth talks to.
package swarm
