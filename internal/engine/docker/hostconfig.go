package docker

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/versions"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/engine"
)

// Engine API versions that added a container setting. An older engine
// ignores the field without a word, so berth refuses it instead.
const (
	apiAnnotations = "1.43" // HostConfig.Annotations (Engine 24)
	apiSubpath     = "1.45" // VolumeOptions.Subpath (Engine 26)
)

// applyOptions sets the per-container Compose settings of s on cfg and
// hc (mounts, restart policy, logging, capabilities, …) and returns the
// platform to create the container for (nil: the engine's). It refuses
// what the engine's API version cannot do.
func (b *Backend) applyOptions(ctx context.Context, s engine.ContainerSpec, cfg *container.Config, hc *container.HostConfig) (*ocispec.Platform, error) {
	policy, err := restartPolicy(s.RestartPolicy)
	if err != nil {
		return nil, err
	}
	hc.RestartPolicy = policy
	def := engine.DefaultLog()
	hc.LogConfig = container.LogConfig{Type: def.Driver, Config: def.Options}
	b.cli.NegotiateAPIVersion(ctx)
	api := b.cli.ClientVersion()
	if hc.Mounts, hc.Binds, err = mounts(s.Mounts, api); err != nil {
		return nil, err
	}
	o := s.Options
	if o == nil {
		return nil, nil
	}
	if l := o.Log; l != nil {
		hc.LogConfig = container.LogConfig{Type: l.Driver, Config: maps.Clone(l.Options)}
	}
	cfg.Hostname, cfg.Domainname = o.Hostname, o.Domainname
	cfg.Tty = cfg.Tty || o.TTY
	cfg.OpenStdin = cfg.OpenStdin || o.StdinOpen
	hc.CapAdd, hc.CapDrop = slices.Clone(o.CapAdd), slices.Clone(o.CapDrop)
	hc.Privileged, hc.ReadonlyRootfs, hc.Init = o.Privileged, o.ReadOnly, o.Init
	hc.Tmpfs = maps.Clone(o.Tmpfs)
	hc.ShmSize = o.ShmSize
	hc.SecurityOpt = slices.Clone(o.SecurityOpt)
	hc.ExtraHosts = slices.Clone(o.ExtraHosts)
	hc.Sysctls = maps.Clone(o.Sysctls)
	hc.DNS, hc.DNSSearch, hc.DNSOptions = slices.Clone(o.DNS), slices.Clone(o.DNSSearch), slices.Clone(o.DNSOptions)
	hc.GroupAdd = slices.Clone(o.GroupAdd)
	hc.OomScoreAdj = int(o.OomScoreAdj)
	hc.Runtime = o.Runtime
	hc.VolumesFrom = slices.Clone(o.VolumesFrom)
	r := &hc.Resources
	if o.PidsLimit != 0 {
		p := o.PidsLimit
		r.PidsLimit = &p
	}
	r.MemoryReservation, r.MemorySwap = o.MemoryReservation, o.MemorySwap
	r.CPUShares, r.CpusetCpus = o.CPUShares, o.CPUSet
	for _, u := range o.Ulimits {
		r.Ulimits = append(r.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range o.Devices {
		r.Devices = append(r.Devices, container.DeviceMapping{PathOnHost: d.Source, PathInContainer: d.Target, CgroupPermissions: cmpOr(d.Permissions, "rwm")})
	}
	if len(o.Annotations) > 0 {
		if versions.LessThan(api, apiAnnotations) {
			return nil, fmt.Errorf("container %s: annotations need Docker Engine API %s or later (Engine 24+), and this engine speaks %s, which would drop them; remove annotations: from the service or upgrade the engine", s.Name, apiAnnotations, api)
		}
		hc.Annotations = maps.Clone(o.Annotations)
	}
	if o.Platform == "" {
		return nil, nil
	}
	parts := strings.Split(o.Platform, "/")
	p := &ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

// restartPolicy parses "no", "always", "unless-stopped", "on-failure" or
// "on-failure:N" ("" is "no").
// policyString is p in SetRestartPolicy's form, restartPolicy's inverse.
func policyString(p container.RestartPolicy) string {
	name := cmpOr(string(p.Name), "no")
	if p.Name == container.RestartPolicyOnFailure && p.MaximumRetryCount > 0 {
		return name + ":" + strconv.Itoa(p.MaximumRetryCount)
	}
	return name
}

func restartPolicy(s string) (container.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := container.RestartPolicy{Name: container.RestartPolicyMode(cmpOr(name, "no"))}
	switch p.Name {
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hasCount {
			return p, fmt.Errorf("restart policy %q: only on-failure takes a retry count", s)
		}
	case container.RestartPolicyOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, fmt.Errorf("restart policy %q: the retry count must be a whole number", s)
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("restart policy %q: must be no, always, unless-stopped or on-failure[:N]", s)
	}
	return p, nil
}

// mounts turns berth's mounts into the engine's, with their long-form
// options. (A bind source must exist: deploy creates it first when the
// file asks, bind.create_host_path.) A bind to relabel for SELinux is
// one of binds, in the -v syntax ("SRC:DST:ro,z"): the engine's mount
// API cannot relabel, as docker compose finds too.
func mounts(ms []engine.Mount, api string) (out []mount.Mount, binds []string, err error) {
	for _, m := range ms {
		switch m.Type {
		case "bind":
			if m.SELinux != "" {
				opts := []string{"rw"}
				if m.ReadOnly {
					opts[0] = "ro"
				}
				opts = append(opts, m.SELinux)
				if m.Propagation != "" {
					opts = append(opts, m.Propagation)
				}
				binds = append(binds, m.Source+":"+m.Target+":"+strings.Join(opts, ","))
				continue
			}
			mm := mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.Propagation != "" {
				mm.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(m.Propagation)}
			}
			out = append(out, mm)
		case "tmpfs":
			mm := mount.Mount{Type: mount.TypeTmpfs, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.TmpfsSize > 0 || m.TmpfsMode != 0 {
				mm.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize, Mode: os.FileMode(m.TmpfsMode)}
			}
			out = append(out, mm)
		default:
			mm := mount.Mount{Type: mount.TypeVolume, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.NoCopy || m.Subpath != "" {
				if m.Subpath != "" && versions.LessThan(api, apiSubpath) {
					return nil, nil, fmt.Errorf("volume %s at %s: volume.subpath needs Docker Engine API %s or later (Engine 26+), and this engine speaks %s, which would mount the whole volume; mount the whole volume and use the directory in it, or upgrade the engine", m.Source, m.Target, apiSubpath, api)
				}
				mm.VolumeOptions = &mount.VolumeOptions{NoCopy: m.NoCopy, Subpath: m.Subpath}
			}
			out = append(out, mm)
		}
	}
	return out, binds, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// platformMismatch rewrites the engine's refusal to run an image for
// another platform into what to do about it.
func platformMismatch(name, image, platform string, err error) error {
	if platform == "" || err == nil || !strings.Contains(err.Error(), "does not match the specified platform") {
		return nil
	}
	return fmt.Errorf("create container %s: image %s is not built for platform: %s (the engine says: %v); build or pull the image for %s, or set platform: to the image's platform", name, image, platform, err, platform)
}
