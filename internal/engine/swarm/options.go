package swarm

import (
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/go-units"

	"github.com/berth-dev/berth/internal/engine"
)

// applyOptions sets the per-container Compose settings a task can carry
// (as docker stack deploy sets them) on spec. Settings Swarm cannot
// apply (privileged, devices, shm_size, …) are refused by the deploy
// before a spec is built (deploy.clusterRefusals); they are not read here.
func applyOptions(spec *swarm.ServiceSpec, o *engine.ContainerOptions) {
	if o == nil {
		return
	}
	cs := spec.TaskTemplate.ContainerSpec
	cs.Hostname = o.Hostname
	cs.TTY = cs.TTY || o.TTY
	cs.OpenStdin = cs.OpenStdin || o.StdinOpen
	cs.CapabilityAdd, cs.CapabilityDrop = slices.Clone(o.CapAdd), slices.Clone(o.CapDrop)
	cs.ReadOnly, cs.Init = o.ReadOnly, o.Init
	cs.Groups = slices.Clone(o.GroupAdd)
	cs.Sysctls = maps.Clone(o.Sysctls)
	for _, u := range o.Ulimits {
		cs.Ulimits = append(cs.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, h := range o.ExtraHosts {
		// Swarm takes hosts(5) lines: "IP HOST".
		if host, ip, ok := strings.Cut(h, ":"); ok {
			cs.Hosts = append(cs.Hosts, ip+" "+host)
		}
	}
	if len(o.DNS)+len(o.DNSSearch)+len(o.DNSOptions) > 0 {
		cs.DNSConfig = &swarm.DNSConfig{Nameservers: slices.Clone(o.DNS), Search: slices.Clone(o.DNSSearch), Options: slices.Clone(o.DNSOptions)}
	}
	for _, p := range slices.Sorted(maps.Keys(o.Tmpfs)) {
		m := mount.Mount{Type: mount.TypeTmpfs, Target: p}
		if size, mode, ok := tmpfsOptions(o.Tmpfs[p]); ok && (size > 0 || mode != 0) {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: size, Mode: mode}
		}
		cs.Mounts = append(cs.Mounts, m)
	}
	if l := o.Log; l != nil {
		spec.TaskTemplate.LogDriver = &swarm.Driver{Name: l.Driver, Options: maps.Clone(l.Options)}
	}
	if o.PidsLimit > 0 || o.MemoryReservation > 0 {
		res := spec.TaskTemplate.Resources
		if res == nil {
			res = &swarm.ResourceRequirements{}
			spec.TaskTemplate.Resources = res
		}
		if o.PidsLimit > 0 {
			if res.Limits == nil {
				res.Limits = &swarm.Limit{}
			}
			res.Limits.Pids = o.PidsLimit
		}
		if o.MemoryReservation > 0 {
			res.Reservations = &swarm.Resources{MemoryBytes: o.MemoryReservation}
		}
	}
}

// tmpfsOptions reads the size= and mode= of a tmpfs mount's options
// ("size=64m,mode=1777"); ok is false when they hold anything else,
// which a Swarm task's tmpfs mount cannot carry.
func tmpfsOptions(opts string) (size int64, mode os.FileMode, ok bool) {
	if opts == "" {
		return 0, 0, true
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "size":
			n, err := units.RAMInBytes(v)
			if err != nil {
				return 0, 0, false
			}
			size = n
		case "mode":
			var m uint32
			for _, c := range v {
				if c < '0' || c > '7' {
					return 0, 0, false
				}
				m = m*8 + uint32(c-'0')
			}
			mode = os.FileMode(m)
		default:
			return 0, 0, false
		}
	}
	return size, mode, true
}
