package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ContainerOptions are the per-container Compose keys of a service
// (cap_add, tmpfs, ulimits, logging, restart, pull_policy, …), with the
// meaning docker compose gives them on one host. A service that sets
// none of them has none (Service.Container is nil), so its stored form,
// and a stateful service's definition hash, stay as they were.
type ContainerOptions struct {
	CapAdd     []string `json:"cap_add,omitempty"`
	CapDrop    []string `json:"cap_drop,omitempty"`
	Privileged bool     `json:"privileged,omitempty"`
	// Tmpfs are the short-form tmpfs mounts, "PATH" or "PATH:OPTIONS"
	// (mount(8) options such as size=64m,mode=1777).
	Tmpfs       []string          `json:"tmpfs,omitempty"`
	Ulimits     []Ulimit          `json:"ulimits,omitempty"` // sorted by name
	ShmSize     int64             `json:"shm_size,omitempty"`
	ReadOnly    bool              `json:"read_only,omitempty"`
	SecurityOpt []string          `json:"security_opt,omitempty"`
	ExtraHosts  []string          `json:"extra_hosts,omitempty"` // "HOST:IP", sorted
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Logging     *Logging          `json:"logging,omitempty"`
	Init        *bool             `json:"init,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	DNS         []string          `json:"dns,omitempty"`
	DNSSearch   []string          `json:"dns_search,omitempty"`
	DNSOptions  []string          `json:"dns_opt,omitempty"`
	Devices     []Device          `json:"devices,omitempty"`
	GroupAdd    []string          `json:"group_add,omitempty"`
	// PidsLimit is pids_limit (deploy.resources.limits.pids, kept in
	// Rollout, wins: see Service.Pids).
	PidsLimit   int64 `json:"pids_limit,omitempty"`
	OomScoreAdj int64 `json:"oom_score_adj,omitempty"`
	// MemoryReservation is mem_reservation
	// (deploy.resources.reservations.memory, kept in Rollout, wins: see
	// Service.MemoryReservation).
	MemoryReservation int64 `json:"mem_reservation,omitempty"`
	// MemorySwap is memswap_limit (-1: unlimited swap).
	MemorySwap  int64             `json:"memswap_limit,omitempty"`
	CPUShares   int64             `json:"cpu_shares,omitempty"`
	CPUSet      string            `json:"cpuset,omitempty"`
	Platform    string            `json:"platform,omitempty"`
	Runtime     string            `json:"runtime,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Restart is the Compose restart policy: "no", "always",
	// "unless-stopped", "on-failure" or "on-failure:N". Empty: berth's own
	// (unless-stopped once the release is live).
	Restart string `json:"restart,omitempty"`
	// PullPolicy is "always", "missing", "never" or "build" (empty:
	// missing).
	PullPolicy string `json:"pull_policy,omitempty"`
	// VolumesFrom are "SERVICE[:ro|rw]" or "container:NAME[:ro|rw]".
	VolumesFrom []string `json:"volumes_from,omitempty"`
	// TTY is tty: the container gets a terminal (its log is the
	// terminal's output, one stream); StdinOpen is stdin_open: its
	// standard input stays open with nothing attached, as docker compose
	// up -d leaves it.
	TTY       bool `json:"tty,omitempty"`
	StdinOpen bool `json:"stdin_open,omitempty"`
}

// Ulimit is one entry of ulimits (a single value sets both).
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

// Logging is the Compose logging section.
type Logging struct {
	Driver  string            `json:"driver,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// Device is one entry of devices: a host device made available in the
// container.
type Device struct {
	Source      string `json:"source"`
	Target      string `json:"target"`
	Permissions string `json:"permissions,omitempty"` // cgroup permissions, "rwm" when empty
}

// Pull policies (pull_policy), as Compose names them.
const (
	PullAlways  = "always"
	PullMissing = "missing"
	PullNever   = "never"
	PullBuild   = "build"
)

// convertContainer reads the per-container keys of sc into s.Container
// (nil when the file sets none) and folds mem_limit, cpus and pids_limit
// into the service's limits where deploy.resources.limits leaves them
// unset (docker compose lets deploy.resources win).
func convertContainer(c *collector, s *Service, sc types.ServiceConfig) {
	n := s.Name
	o := ContainerOptions{
		CapAdd:      slices.Clone(sc.CapAdd),
		CapDrop:     slices.Clone(sc.CapDrop),
		Privileged:  sc.Privileged,
		Tmpfs:       slices.Clone([]string(sc.Tmpfs)),
		ShmSize:     int64(sc.ShmSize),
		ReadOnly:    sc.ReadOnly,
		SecurityOpt: slices.Clone(sc.SecurityOpt),
		Hostname:    sc.Hostname,
		Domainname:  sc.DomainName,
		Init:        sc.Init,
		DNS:         slices.Clone([]string(sc.DNS)),
		DNSSearch:   slices.Clone([]string(sc.DNSSearch)),
		DNSOptions:  slices.Clone(sc.DNSOpts),
		GroupAdd:    slices.Clone(sc.GroupAdd),
		PidsLimit:   sc.PidsLimit,
		OomScoreAdj: sc.OomScoreAdj,
		MemorySwap:  int64(sc.MemSwapLimit),
		CPUShares:   sc.CPUShares,
		CPUSet:      sc.CPUSet,
		Platform:    sc.Platform,
		Runtime:     sc.Runtime,
		Restart:     sc.Restart,
		PullPolicy:  sc.PullPolicy,
		VolumesFrom: slices.Clone(sc.VolumesFrom),
		TTY:         sc.Tty,
		StdinOpen:   sc.StdinOpen,

		MemoryReservation: int64(sc.MemReservation),
	}
	if len(sc.ExtraHosts) > 0 {
		o.ExtraHosts = sc.ExtraHosts.AsList(":")
		sort.Strings(o.ExtraHosts)
	}
	if len(sc.Sysctls) > 0 {
		o.Sysctls = maps.Clone(map[string]string(sc.Sysctls))
	}
	if len(sc.Annotations) > 0 {
		o.Annotations = maps.Clone(map[string]string(sc.Annotations))
	}
	if l := sc.Logging; l != nil && (l.Driver != "" || len(l.Options) > 0) {
		o.Logging = &Logging{Driver: l.Driver}
		if len(l.Options) > 0 {
			o.Logging.Options = maps.Clone(map[string]string(l.Options))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sc.Ulimits)) {
		u := sc.Ulimits[name]
		if u == nil {
			continue
		}
		ul := Ulimit{Name: name, Soft: int64(u.Soft), Hard: int64(u.Hard)}
		if u.Single != 0 {
			ul.Soft, ul.Hard = int64(u.Single), int64(u.Single)
		}
		if ul.Soft > ul.Hard && ul.Hard >= 0 {
			c.add(n, "ulimits."+name, fmt.Sprintf("soft limit %d is above the hard limit %d; write soft: and hard: with soft <= hard", ul.Soft, ul.Hard))
		}
		o.Ulimits = append(o.Ulimits, ul)
	}
	for i, d := range sc.Devices {
		dev := Device{Source: d.Source, Target: d.Target, Permissions: d.Permissions}
		if dev.Target == "" {
			dev.Target = dev.Source
		}
		if !path.IsAbs(dev.Source) {
			c.add(n, fmt.Sprintf("devices[%d]", i), fmt.Sprintf("%s is not a device path: berth passes host devices (e.g. /dev/fuse:/dev/fuse); CDI device names are not supported, remove it", quote(d.Source)))
		}
		if strings.Trim(dev.Permissions, "rwm") != "" {
			c.add(n, fmt.Sprintf("devices[%d]", i), fmt.Sprintf("permissions must be letters of rwm, got %s", quote(dev.Permissions)))
		}
		o.Devices = append(o.Devices, dev)
	}
	if s.MemoryBytes == 0 {
		s.MemoryBytes = int64(sc.MemLimit)
	}
	if s.NanoCPUs == 0 && sc.CPUS != 0 {
		s.NanoCPUs = nanoCPUs(types.NanoCPUs(sc.CPUS))
	}
	validateContainer(c, n, &o)
	if o.PullPolicy == PullBuild && s.Build == nil {
		c.add(n, "pull_policy", "build needs a build: section to build the image from; add build:, or use pull_policy: missing")
	}
	if o.isZero() {
		return
	}
	s.Container = &o
}

// validateContainer checks the values Docker would refuse at container
// creation, so the deploy is refused before anything changes.
func validateContainer(c *collector, n string, o *ContainerOptions) {
	switch r := o.Restart; {
	case r == "", r == "no", r == "always", r == "unless-stopped", r == "on-failure":
	case strings.HasPrefix(r, "on-failure:"):
		if k, err := strconv.Atoi(strings.TrimPrefix(r, "on-failure:")); err != nil || k < 0 {
			c.add(n, "restart", fmt.Sprintf("%s: the retry count after on-failure: must be a whole number, e.g. on-failure:3", quote(r)))
		}
	default:
		c.add(n, "restart", fmt.Sprintf("must be no, always, unless-stopped or on-failure[:N], got %s", quote(r)))
	}
	switch o.PullPolicy {
	case "", PullAlways, PullMissing, PullNever, PullBuild:
	case "if_not_present":
		o.PullPolicy = PullMissing
	default:
		c.add(n, "pull_policy", fmt.Sprintf("must be always, missing, never or build, got %s (berth does not pull on a schedule: use always, or missing)", quote(o.PullPolicy)))
	}
	for i, t := range o.Tmpfs {
		if p, _, _ := strings.Cut(t, ":"); !path.IsAbs(p) {
			c.add(n, fmt.Sprintf("tmpfs[%d]", i), fmt.Sprintf("%s: the mount point must be an absolute path in the container, e.g. /run or /tmp:size=64m", quote(t)))
		}
	}
	for i, h := range o.ExtraHosts {
		if host, ip, _ := strings.Cut(h, ":"); host == "" || ip == "" {
			c.add(n, fmt.Sprintf("extra_hosts[%d]", i), fmt.Sprintf("%s: write HOST=IP or HOST:IP, e.g. db.internal=10.0.0.5", quote(h)))
		}
	}
	if o.ShmSize < 0 {
		c.add(n, "shm_size", fmt.Sprintf("must not be negative, got %d", o.ShmSize))
	}
	if o.MemoryReservation < 0 {
		c.add(n, "mem_reservation", fmt.Sprintf("must not be negative, got %d", o.MemoryReservation))
	}
	if o.OomScoreAdj < -1000 || o.OomScoreAdj > 1000 {
		c.add(n, "oom_score_adj", fmt.Sprintf("must be between -1000 and 1000, got %d", o.OomScoreAdj))
	}
	if o.Platform != "" {
		if parts := strings.Split(o.Platform, "/"); len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
			c.add(n, "platform", fmt.Sprintf("%s: write OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8", quote(o.Platform)))
		}
	}
	for i, v := range o.VolumesFrom {
		ref := strings.TrimPrefix(v, "container:")
		name, mode, _ := strings.Cut(ref, ":")
		if name == "" || (mode != "" && mode != "ro" && mode != "rw") {
			c.add(n, fmt.Sprintf("volumes_from[%d]", i), fmt.Sprintf("%s: write SERVICE, SERVICE:ro, container:NAME or container:NAME:ro", quote(v)))
		}
	}
}

func (o ContainerOptions) isZero() bool {
	b, _ := json.Marshal(o)
	return string(b) == "{}"
}

// RestartPolicy is the Docker restart policy of the service's containers
// once their release is live, as docker compose sets it on one host:
// deploy.restart_policy when the file sets it (condition any is always,
// on-failure is on-failure:max_attempts, none is no), else restart:, else
// "unless-stopped" (berth's own).
func (s Service) RestartPolicy() string {
	if s.Rollout != nil && s.Rollout.Restart != nil {
		switch r := s.Rollout.Restart; r.Condition {
		case "any":
			return "always"
		case "none":
			return "no"
		case "on-failure":
			if r.MaxAttempts > 0 {
				return "on-failure:" + strconv.FormatUint(r.MaxAttempts, 10)
			}
			return "on-failure"
		}
	}
	if s.Container != nil && s.Container.Restart != "" {
		return s.Container.Restart
	}
	return "unless-stopped"
}

// Pull is the service's pull policy: PullMissing when the file sets none.
func (s Service) Pull() string {
	if s.Container != nil && s.Container.PullPolicy != "" {
		return s.Container.PullPolicy
	}
	return PullMissing
}

// convertMount is one entry of a service's volumes, with the long-form
// options docker compose applies.
func convertMount(c *collector, svc string, i int, v types.ServiceVolumeConfig) Mount {
	m := Mount{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
	field := fmt.Sprintf("volumes[%d]", i)
	if b := v.Bind; b != nil {
		m.Propagation = b.Propagation
		switch b.Propagation {
		case "", "private", "rprivate", "shared", "rshared", "slave", "rslave":
		default:
			c.add(svc, field+".bind.propagation", fmt.Sprintf("must be private, rprivate, shared, rshared, slave or rslave, got %s", quote(b.Propagation)))
		}
		m.SELinux = b.SELinux
		if m.SELinux != "" && m.SELinux != "z" && m.SELinux != "Z" {
			c.add(svc, field+".bind.selinux", fmt.Sprintf("must be z (a label shared with other containers) or Z (private to this container), got %s", quote(b.SELinux)))
		}
	}
	if vv := v.Volume; vv != nil {
		m.NoCopy = vv.NoCopy
		m.Subpath = vv.Subpath
	}
	if t := v.Tmpfs; t != nil {
		m.TmpfsSize = int64(t.Size)
		m.TmpfsMode = t.Mode
	}
	if m.Type == types.VolumeTypeTmpfs && m.Source != "" {
		c.add(svc, field, fmt.Sprintf("a tmpfs mount has no source (got %s): write type: tmpfs with target: only", quote(m.Source)))
	}
	return m
}

// Pids is the service's pids limit: deploy.resources.limits.pids, else
// pids_limit (0: none).
func (s Service) Pids() int64 {
	if s.Rollout != nil && s.Rollout.PidsLimit != 0 {
		return s.Rollout.PidsLimit
	}
	if s.Container != nil {
		return s.Container.PidsLimit
	}
	return 0
}

// MemoryReservation is the service's soft memory limit:
// deploy.resources.reservations.memory, else mem_reservation (0: none),
// as docker compose sets it on one host.
func (s Service) MemoryReservation() int64 {
	if s.Rollout != nil && s.Rollout.ReserveMemoryBytes != 0 {
		return s.Rollout.ReserveMemoryBytes
	}
	if s.Container != nil {
		return s.Container.MemoryReservation
	}
	return 0
}
