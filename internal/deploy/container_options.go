package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// This file carries the per-container Compose keys (spec.ContainerOptions)
// from a service to the engine's container spec, as docker compose
// applies them on one host.

// containerOptions is svc's per-container settings as the engine takes
// them; nil when the service sets none. volumes_from entries naming a
// service are left as "service:NAME[:mode]" for resolveVolumesFrom.
func containerOptions(svc spec.Service) *engine.ContainerOptions {
	o := svc.Container
	pids, reserve := svc.Pids(), svc.MemoryReservation()
	if o == nil && pids == 0 && reserve == 0 {
		return nil
	}
	if o == nil {
		o = &spec.ContainerOptions{}
	}
	out := &engine.ContainerOptions{
		CapAdd: slices.Clone(o.CapAdd), CapDrop: slices.Clone(o.CapDrop), Privileged: o.Privileged,
		ShmSize: o.ShmSize, ReadOnly: o.ReadOnly, SecurityOpt: slices.Clone(o.SecurityOpt),
		ExtraHosts: slices.Clone(o.ExtraHosts), Hostname: o.Hostname, Domainname: o.Domainname,
		Init: o.Init, Sysctls: maps.Clone(o.Sysctls),
		DNS: slices.Clone(o.DNS), DNSSearch: slices.Clone(o.DNSSearch), DNSOptions: slices.Clone(o.DNSOptions),
		GroupAdd: slices.Clone(o.GroupAdd), PidsLimit: pids, OomScoreAdj: o.OomScoreAdj,
		MemoryReservation: reserve, MemorySwap: o.MemorySwap, CPUShares: o.CPUShares, CPUSet: o.CPUSet,
		Platform: o.Platform, Runtime: o.Runtime, Annotations: maps.Clone(o.Annotations),
		TTY: o.TTY, StdinOpen: o.StdinOpen,
	}
	if len(o.Tmpfs) > 0 {
		out.Tmpfs = make(map[string]string, len(o.Tmpfs))
		for _, t := range o.Tmpfs {
			p, opts, _ := strings.Cut(t, ":")
			out.Tmpfs[p] = opts
		}
	}
	for _, u := range o.Ulimits {
		out.Ulimits = append(out.Ulimits, engine.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range o.Devices {
		out.Devices = append(out.Devices, engine.Device{Source: d.Source, Target: d.Target, Permissions: d.Permissions})
	}
	if l := o.Logging; l != nil {
		def := engine.DefaultLog()
		out.Log = &engine.LogConfig{Driver: l.Driver, Options: maps.Clone(l.Options)}
		if l.Driver == "" || l.Driver == def.Driver && len(l.Options) == 0 {
			// No driver: berth's default driver with the file's options
			// (or berth's rotation when it gives none).
			out.Log.Driver = def.Driver
			if len(l.Options) == 0 {
				out.Log.Options = def.Options
			}
		}
	}
	for _, v := range o.VolumesFrom {
		if c, ok := strings.CutPrefix(v, "container:"); ok {
			out.VolumesFrom = append(out.VolumesFrom, c)
		} else {
			out.VolumesFrom = append(out.VolumesFrom, "service:"+v)
		}
	}
	return out
}

// mountOptions copies the long-form volume options of m onto em.
func mountOptions(m spec.Mount, em *engine.Mount) {
	em.NoCopy = m.NoCopy
	em.Subpath = m.Subpath
	em.TmpfsSize = m.TmpfsSize
	em.TmpfsMode = m.TmpfsMode
	em.Propagation = m.Propagation
	em.SELinux = m.SELinux
}

// resolveVolumesFrom replaces each volumes_from entry naming a service
// ("service:NAME[:mode]") by a container of that service: the one this
// plan starts (replica 1), or the stateful container it keeps. A service
// with neither is a conflict.
func resolveVolumesFrom(p *Plan) {
	for i := range p.Start {
		o := p.Start[i].Spec.Options
		if o == nil || !slices.ContainsFunc(o.VolumesFrom, func(v string) bool { return strings.HasPrefix(v, "service:") }) {
			continue
		}
		resolved, err := volumesFromRefs(o.VolumesFrom, func(service string) (string, bool) {
			for _, q := range p.Start {
				if q.Service == service && q.Index == 1 {
					return q.Spec.Name, true
				}
			}
			if cs := p.Keep[service]; len(cs) > 0 {
				return cs[0].Name, true
			}
			return "", false
		})
		if err != nil {
			p.Conflicts = append(p.Conflicts, fmt.Sprintf("service %q: %v", p.Start[i].Service, err))
			continue
		}
		c := *o
		c.VolumesFrom = resolved
		p.Start[i].Spec.Options = &c
	}
}

// volumesFromRefs resolves "service:NAME[:mode]" entries with lookup.
func volumesFromRefs(refs []string, lookup func(service string) (string, bool)) ([]string, error) {
	out := make([]string, 0, len(refs))
	for _, v := range refs {
		ref, ok := strings.CutPrefix(v, "service:")
		if !ok {
			out = append(out, v)
			continue
		}
		name, mode, _ := strings.Cut(ref, ":")
		c, ok := lookup(name)
		if !ok {
			return nil, fmt.Errorf("volumes_from %s: no container of service %q runs to mount the volumes of; deploy it with this app (volumes_from only names services of the same app)", ref, name)
		}
		if mode != "" {
			c += ":" + mode
		}
		out = append(out, c)
	}
	return out, nil
}

// resolveOneOffVolumesFrom resolves the service entries of a one-off
// container's volumes_from to the running containers of the live release.
func (d *Deployer) resolveOneOffVolumesFrom(ctx context.Context, app, env string, rel int64, cs *engine.ContainerSpec) error {
	o := cs.Options
	if o == nil || !slices.ContainsFunc(o.VolumesFrom, func(v string) bool { return strings.HasPrefix(v, "service:") }) {
		return nil
	}
	running, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env})
	if err != nil {
		return err
	}
	resolved, err := volumesFromRefs(o.VolumesFrom, func(service string) (string, bool) {
		for _, c := range running {
			if c.Labels[engine.LabelService] == service && c.Labels[LabelOneOff] != "true" && c.Running() &&
				(c.Labels[engine.LabelRelease] == strconv.FormatInt(rel, 10) || c.Labels[LabelStateful] == "true") {
				return c.Name, true
			}
		}
		return "", false
	})
	if err != nil {
		return err
	}
	c := *o
	c.VolumesFrom = resolved
	cs.Options = &c
	return nil
}

// restartPolicyOf is the Docker restart policy a live container of app
// gets: its service's Compose restart:, or berth's unless-stopped.
func restartPolicyOf(app *spec.App, c engine.Container) string {
	if svc, ok := app.Service(c.Labels[engine.LabelService]); ok {
		return svc.RestartPolicy()
	}
	return "unless-stopped"
}

// Engine API versions that added a container setting (Docker's
// numbering); an older engine would drop it without a word.
const (
	apiAnnotations = "1.43"
	apiSubpath     = "1.45"
)

// hostRefusals checks, before anything changes, the per-container
// settings the single-host engine cannot apply: annotations and
// volume.subpath on an engine whose API predates them.
func (d *Deployer) hostRefusals(ctx context.Context, app *spec.App) (refusals []string) {
	api := ""
	for _, svc := range app.Services {
		needs := func(what, version, fix string) {
			if api == "" {
				info, err := d.eng.Ping(ctx)
				if err != nil {
					return // the engine's own error comes at container creation
				}
				api = info.APIVersion
			}
			if api != "" && olderAPI(api, version) {
				refusals = append(refusals, fmt.Sprintf("service %q: %s needs Docker Engine API %s or later, and this engine speaks %s, which would drop it without a word; %s", svc.Name, what, version, api, fix))
			}
		}
		if svc.Container != nil && len(svc.Container.Annotations) > 0 {
			needs("annotations", apiAnnotations, "remove annotations: or upgrade the engine (Engine 24+)")
		}
		for i, m := range svc.Volumes {
			if m.Subpath != "" {
				needs(fmt.Sprintf("volumes[%d].volume.subpath", i), apiSubpath, "mount the whole volume and use the directory in it, or upgrade the engine (Engine 26+)")
			}
		}
	}
	return refusals
}

// olderAPI reports whether API version a ("1.41") is older than b.
func olderAPI(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// refuseOnHost is hostRefusals as an execution's error.
func (d *Deployer) refuseOnHost(ctx context.Context, x *execution) error {
	if refusals := d.hostRefusals(ctx, x.app); len(refusals) > 0 {
		return refusal(strings.Join(refusals, "; "))
	}
	return nil
}

// refusal is a deploy refused for what the file asks: its message says
// why, and it matches ErrInvalid.
type refusal string

func (r refusal) Error() string { return string(r) }
func (r refusal) Unwrap() error { return ErrInvalid }

// resolveImageByPolicy is resolveImage under the pull_policy of the
// services that use ref: "never" uses only what the host has, "always"
// pulls even when the host has the image (a reference by image ID, or
// an image berth deploy builds from build:, is never pulled), "missing"
// and "build" pull only a missing image (berth deploy builds every
// service with build: before it deploys, which is what "build" asks).
func (d *Deployer) resolveImageByPolicy(ctx context.Context, app *spec.App, ref string, t *tracker) (engine.Image, error) {
	policy := spec.PullMissing
	for _, svc := range app.Services {
		if svc.Image != ref {
			continue
		}
		switch p := svc.Pull(); {
		case p == spec.PullAlways && svc.Build != nil:
			// berth deploy built it just now; it may be on this host only.
		case p == spec.PullAlways:
			policy = p
		case p == spec.PullNever && policy == spec.PullMissing:
			policy = p
		}
	}
	switch {
	case policy == spec.PullNever:
		img, err := d.eng.InspectImage(ctx, ref)
		if errors.Is(err, engine.ErrImageNotFound) {
			return engine.Image{}, fmt.Errorf("image %s is not on this host, and pull_policy: never forbids pulling it; put it on the host (docker pull %s, or docker load) or remove pull_policy: never", ref, ref)
		}
		if err != nil {
			return engine.Image{}, fmt.Errorf("inspect image %s: %w", ref, err)
		}
		return img, nil
	case policy == spec.PullAlways && !strings.HasPrefix(ref, "sha256:"):
		t.say("pulling %s (pull_policy: always)", ref)
		if err := d.eng.PullImage(ctx, ref, d.registryAuth(ref), nil); err != nil {
			return engine.Image{}, &pullError{ref: ref, err: err}
		}
	}
	return d.resolveImage(ctx, ref, t)
}

// releaseVolumesFrom points a release command's volumes_from services at
// the live release's containers: it runs before the new release's
// containers exist.
func (d *Deployer) releaseVolumesFrom(ctx context.Context, x *execution, svc spec.Service, cs *engine.ContainerSpec) error {
	o := containerOptions(svc)
	if o == nil || !slices.ContainsFunc(o.VolumesFrom, func(v string) bool { return strings.HasPrefix(v, "service:") }) {
		return nil
	}
	var live int64
	if rel, err := d.store.LiveRelease(x.app.Name, x.env); err == nil {
		live = rel.ID
	}
	c := *cs
	c.Options = o
	if err := d.resolveOneOffVolumesFrom(ctx, x.app.Name, x.env, live, &c); err != nil {
		return fmt.Errorf("%w (a release command runs before the new release's containers start, so it mounts the volumes of the live release's containers)", err)
	}
	*cs = c
	return nil
}

// hashedService is svc as a stateful service's definition hash sees it:
// without restart: and pull_policy, which change no container (the
// restart policy is set in place, see keptRestartPolicies; a pulled
// image has its own ID in the hash), so that adding or changing them
// never asks to replace a database.
func hashedService(svc spec.Service) spec.Service {
	if svc.Container == nil || (svc.Container.Restart == "" && svc.Container.PullPolicy == "") {
		return svc
	}
	o := *svc.Container
	o.Restart, o.PullPolicy = "", ""
	svc.Container = &o
	if b, _ := json.Marshal(o); string(b) == "{}" {
		svc.Container = nil // the form the service had without them
	}
	return svc
}

// keptRestartPolicies gives the stateful containers a release keeps as
// they are their service's restart policy, which may have changed.
func (d *Deployer) keptRestartPolicies(ctx context.Context, x *execution, plan Plan) {
	for _, cs := range plan.Keep {
		for _, c := range cs {
			if err := d.eng.SetRestartPolicy(ctx, c.ID, restartPolicyOf(x.app, c)); err != nil {
				d.log.Warn("set restart policy", "container", c.Name, "error", err)
			}
		}
	}
}

// canaryVolumesFrom re-points the volumes_from of a canary's containers
// at the live release's containers of services the canary does not
// start (it starts routed services only).
func (d *Deployer) canaryVolumesFrom(ctx context.Context, x *execution, plan *Plan) error {
	var running []engine.Container
	for i := range plan.Start {
		svc, ok := x.app.Service(plan.Start[i].Service)
		if !ok || svc.Container == nil {
			continue
		}
		o := containerOptions(*svc)
		if o == nil || !slices.ContainsFunc(o.VolumesFrom, func(v string) bool { return strings.HasPrefix(v, "service:") }) {
			continue
		}
		if running == nil {
			var err error
			if running, err = d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env}); err != nil {
				return err
			}
		}
		live := releaseLabel(x.dep.FromReleaseID)
		resolved, err := volumesFromRefs(o.VolumesFrom, func(service string) (string, bool) {
			if !x.skip[service] {
				for _, q := range plan.Start {
					if q.Service == service && q.Index == 1 {
						return q.Spec.Name, true
					}
				}
			}
			for _, c := range running {
				if c.Labels[engine.LabelService] == service && c.Labels[LabelOneOff] != "true" && c.Running() &&
					(c.Labels[engine.LabelRelease] == live || c.Labels[LabelStateful] == "true") {
					return c.Name, true
				}
			}
			return "", false
		})
		if err != nil {
			return fmt.Errorf("service %q: %w", svc.Name, err)
		}
		c := *plan.Start[i].Spec.Options
		c.VolumesFrom = resolved
		plan.Start[i].Spec.Options = &c
	}
	return nil
}

// TestContainerOptions are the settings of an x-berth.test container:
// the service's per-container settings, as its containers get them,
// but for volumes_from a service (the test runs on the freshly built
// image, before any container of the release exists), which a note
// names.
func TestContainerOptions(o *spec.ContainerOptions) (*engine.ContainerOptions, []string) {
	out := containerOptions(spec.Service{Container: o})
	if out == nil {
		return nil, nil
	}
	var notes []string
	kept := out.VolumesFrom[:0:0]
	for _, v := range out.VolumesFrom {
		if ref, ok := strings.CutPrefix(v, "service:"); ok {
			notes = append(notes, fmt.Sprintf("volumes_from %s is not mounted: the test runs before the release's containers exist", ref))
			continue
		}
		kept = append(kept, v)
	}
	out.VolumesFrom = kept
	return out, notes
}
