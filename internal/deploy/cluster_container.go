package deploy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// The per-container Compose keys on a Swarm cluster: what a task can
// carry is applied as docker stack deploy applies it (engine/swarm); the
// rest is refused, naming the key, the service and why, before anything
// changes.

// clusterContainerRefusals lists svc's per-container keys a Swarm task
// cannot apply.
func clusterContainerRefusals(svc spec.Service) []string {
	var out []string
	refuse := func(key, why string) {
		out = append(out, fmt.Sprintf("service %q: %s: %s", svc.Name, key, why))
	}
	for i, m := range svc.Volumes {
		if m.SELinux != "" {
			refuse(fmt.Sprintf("volumes[%d]", i), fmt.Sprintf("a Swarm task's bind mount cannot be relabelled for SELinux (:%s); relabel the host directory once (chcon -Rt container_file_t DIR) and remove the option", m.SELinux))
		}
		if m.Subpath != "" {
			refuse(fmt.Sprintf("volumes[%d].volume.subpath", i), "a Swarm task cannot mount part of a volume (Engine API 1.45+ only); mount the whole volume and use the directory in it")
		}
	}
	o := svc.Container
	if o == nil {
		return out
	}
	const node = "Swarm tasks cannot have it (docker stack deploy ignores it); "
	if o.Privileged {
		refuse("privileged", node+"run the service outside the cluster, or grant what it needs with cap_add")
	}
	if len(o.Devices) > 0 {
		refuse("devices", node+"run the service outside the cluster")
	}
	if o.ShmSize != 0 {
		refuse("shm_size", node+"mount a tmpfs at /dev/shm instead (volumes: - type: tmpfs, target: /dev/shm, tmpfs: { size: ... })")
	}
	if len(o.SecurityOpt) > 0 {
		refuse("security_opt", node+"remove it")
	}
	if o.Domainname != "" {
		refuse("domainname", node+"remove it, or use a fully qualified hostname:")
	}
	if o.OomScoreAdj != 0 {
		refuse("oom_score_adj", "Swarm applies it from Engine API 1.46 only; remove it")
	}
	if o.MemorySwap != 0 {
		refuse("memswap_limit", node+"remove it (deploy.resources.limits.memory limits memory)")
	}
	if o.CPUShares != 0 {
		refuse("cpu_shares", node+"use deploy.resources.reservations.cpus")
	}
	if o.CPUSet != "" {
		refuse("cpuset", node+"remove it")
	}
	if o.Platform != "" {
		refuse("platform", "Swarm runs the image's platform for each node; place the service with deploy.placement.constraints (e.g. node.platform.arch==x86_64) instead")
	}
	if o.Runtime != "" {
		refuse("runtime", node+"remove it")
	}
	if len(o.Annotations) > 0 {
		refuse("annotations", node+"use labels")
	}
	if len(o.VolumesFrom) > 0 {
		refuse("volumes_from", "tasks of a cluster land on different nodes and cannot share another container's volumes; mount the same named volume in both services")
	}
	for i, t := range o.Tmpfs {
		_, opts, _ := strings.Cut(t, ":")
		for _, kv := range strings.Split(opts, ",") {
			if k, _, _ := strings.Cut(kv, "="); opts != "" && k != "size" && k != "mode" {
				refuse(fmt.Sprintf("tmpfs[%d]", i), fmt.Sprintf("%q: a Swarm task's tmpfs takes size= and mode= only; remove the other options", t))
				break
			}
		}
	}
	return out
}

// clusterContainerSettings sets what the workload takes from the
// per-container keys beside its template: the pids limit and memory
// reservation, and the Compose restart: as the restart policy when the
// file sets no deploy.restart_policy (always and unless-stopped restart
// on any exit, on-failure[:N] on failure at most N times, no never).
func clusterContainerSettings(w *engine.WorkloadSpec, svc spec.Service) {
	w.Resources.LimitPids = svc.Pids()
	w.Resources.ReserveMemoryBytes = svc.MemoryReservation()
	if svc.Container == nil || svc.Container.Restart == "" || (svc.Rollout != nil && svc.Rollout.Restart != nil) {
		return
	}
	name, count, _ := strings.Cut(svc.Container.Restart, ":")
	switch name {
	case "no":
		w.Restart.Condition = "none"
	case "on-failure":
		w.Restart.Condition = "on-failure"
		if n, err := strconv.ParseUint(count, 10, 64); err == nil {
			w.Restart.MaxAttempts = n
		}
	default:
		w.Restart.Condition = "any"
	}
}
