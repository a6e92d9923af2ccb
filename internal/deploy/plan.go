package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// Desired is what a deployment wants running.
type Desired struct {
	App     *spec.App
	Env     string
	Release int64
	// Images maps service name to the image ID to run.
	Images map[string]string
	// Suffix makes container names unique across attempts (a rollback
	// re-runs an earlier release number).
	Suffix string
	// Vars is the release's configuration and secrets, applied to every
	// service over what the Compose file sets.
	Vars map[string]string
	// ReplaceStateful confirms that stateful services whose definition
	// changed may be stopped and started again.
	ReplaceStateful bool

	// Compose secrets: Files is the content of the secrets the services
	// mount, by the secret's key (see releaseFiles).
	Files map[string]string
}

// Plan is what an executor does, in order: start every container in
// Start, gate on their health, switch, then retire the containers in
// Retire (grouped by service).
type Plan struct {
	Network string
	Start   []Placement
	// Retire lists the containers of the app/env that are not part of the
	// new release, by service; containers of services the new release no
	// longer has are included under their old service name.
	Retire map[string][]engine.Container
	// Volumes maps the engine names of the named volumes the release
	// mounts to their declarations in the Compose file.
	Volumes map[string]spec.Volume
	// Keep lists running stateful containers the release adopts as they
	// are, by service.
	Keep map[string][]engine.Container
	// Replace lists stateful containers to stop before their successor
	// starts (stop-then-start: never two writers on one volume).
	Replace map[string][]engine.Container
	// Conflicts says why the plan cannot run as asked: stateful services
	// whose definition changed without ReplaceStateful.
	Conflicts []string
}

// Placement is one container to start.
type Placement struct {
	Service string
	Index   int // 1-based replica number
	Spec    engine.ContainerSpec
}

// NetworkName is the Docker network of an app environment.
func NetworkName(app, env string) string { return "berth-" + app + "-" + env }

// MakePlan computes the plan for d given the containers observed for the
// app/env. It does no I/O.
func MakePlan(d Desired, observed []engine.Container) Plan {
	p := Plan{Network: NetworkName(d.App.Name, d.Env), Retire: map[string][]engine.Container{}, Volumes: map[string]spec.Volume{},
		Keep: map[string][]engine.Container{}, Replace: map[string][]engine.Container{}}
	rel := strconv.FormatInt(d.Release, 10)
	handled := map[string]bool{} // containers kept or replaced
	for _, svc := range d.App.Services {
		if svc.Stateful {
			hash := statefulHash(d.App, svc, d.Images[svc.Name])
			var same, other []engine.Container
			for _, c := range observed {
				if c.Labels[engine.LabelService] != svc.Name || c.Labels[LabelStateful] != "true" || c.Labels[LabelOneOff] == "true" {
					continue
				}
				if c.Labels[LabelSpec] == hash && c.Running() {
					same = append(same, c)
				} else {
					other = append(other, c)
				}
			}
			switch {
			case len(same) > 0 && len(other) == 0:
				p.Keep[svc.Name] = same
				for _, c := range same {
					handled[c.ID] = true
				}
				addVolumes(p.Volumes, d.App, d.Env, svc)
				continue
			case len(same)+len(other) > 0 && !d.ReplaceStateful:
				p.Conflicts = append(p.Conflicts, fmt.Sprintf("service %q is stateful and its definition changed (or its container is not running): deploy again with --replace-stateful to stop it and start the new one (its volumes are kept)", svc.Name))
				continue
			case len(same)+len(other) > 0:
				p.Replace[svc.Name] = append(same, other...)
				for _, c := range p.Replace[svc.Name] {
					handled[c.ID] = true
				}
			}
		}
		addVolumes(p.Volumes, d.App, d.Env, svc)
		for i := 1; i <= svc.Replicas; i++ {
			p.Start = append(p.Start, Placement{
				Service: svc.Name,
				Index:   i,
				Spec:    containerSpec(d, svc, rel, i, p.Network),
			})
		}
	}
	resolveVolumesFrom(&p)
	for _, c := range observed {
		if c.Labels[LabelOneOff] == "true" || handled[c.ID] {
			continue // one-off containers belong to whoever started them
		}
		if c.Labels[engine.LabelRelease] == rel && c.Labels[engine.LabelApp] == d.App.Name && c.Labels[engine.LabelEnv] == d.Env && containsName(p.Start, c.Name) {
			continue
		}
		svc := c.Labels[engine.LabelService]
		p.Retire[svc] = append(p.Retire[svc], c)
	}
	for _, cs := range p.Retire {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	}
	resolveServiceModes(&p)
	return p
}

func containsName(ps []Placement, name string) bool {
	for _, p := range ps {
		if p.Spec.Name == name {
			return true
		}
	}
	return false
}

// VolumeName is the engine name of a named volume the file does not
// name: such volumes are scoped to the app and environment, so staging
// never mounts production's data (see EngineVolumeName).
func VolumeName(app, env, volume string) string { return app + "-" + env + "-" + volume }

// ContainerName is the readable, unique name of one replica.
func ContainerName(app, env, service string, release int64, index int, suffix string) string {
	n := fmt.Sprintf("%s-%s-%s-r%d-%d", app, env, service, release, index)
	if suffix != "" {
		n += "-" + suffix
	}
	return n
}

func containerSpec(d Desired, svc spec.Service, rel string, index int, network string) engine.ContainerSpec {
	labels := map[string]string{}
	for k, v := range svc.Labels {
		labels[k] = v
	}
	labels[engine.LabelApp] = d.App.Name
	labels[engine.LabelEnv] = d.Env
	labels[engine.LabelService] = svc.Name
	labels[engine.LabelRelease] = rel
	labels["berth.image"] = svc.Image
	if svc.Stateful {
		labels[LabelStateful] = "true"
		labels[LabelSpec] = statefulHash(d.App, svc, d.Images[svc.Name])
	}

	vars := make(map[string]string, len(svc.Environment)+len(d.Env))
	maps.Copy(vars, svc.Environment)
	maps.Copy(vars, d.Vars)
	env := make([]string, 0, len(vars)+4)
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	env = append(env,
		"BERTH_APP="+d.App.Name,
		"BERTH_ENV="+d.Env,
		"BERTH_SERVICE="+svc.Name,
		"BERTH_RELEASE="+rel,
	)

	mounts := make([]engine.Mount, 0, len(svc.Volumes))
	for _, m := range svc.Volumes {
		src := m.Source
		if m.Type == "volume" && m.Source != "" {
			// An anonymous volume (no source) is the container's own:
			// created with it, removed with it (RemoveContainer).
			src = EngineVolumeName(d.App, d.Env, m.Source)
		}
		em := engine.Mount{Type: m.Type, Source: src, Target: m.Target, ReadOnly: m.ReadOnly}
		mountOptions(m, &em)
		if m.Type == "volume" && m.Source != "" {
			def, ok := d.App.Volume(m.Source)
			if !ok {
				def = spec.Volume{Key: m.Source}
			}
			if !def.External {
				vs := volumeSpec(d.App, d.Env, src, def)
				em.Volume = &vs
			}
		}
		mounts = append(mounts, em)
	}

	image := d.Images[svc.Name]
	if image == "" {
		image = svc.Image
	}
	var check *engine.Check
	if c := svc.Check; c != nil {
		check = &engine.Check{Test: c.Test, Interval: c.Interval.D(), Timeout: c.Timeout.D(), StartPeriod: c.StartPeriod.D(), Retries: c.Retries}
	}
	cs := engine.ContainerSpec{
		Name:          ContainerName(d.App.Name, d.Env, svc.Name, d.Release, index, d.Suffix),
		Image:         image,
		Entrypoint:    svc.Entrypoint,
		Cmd:           svc.Command,
		Env:           env,
		Labels:        labels,
		WorkingDir:    svc.WorkingDir,
		User:          svc.User,
		Network:       network,
		Aliases:       serviceAliases(svc),
		Mounts:        mounts,
		StopSignal:    svc.StopSignal,
		StopGrace:     svc.StopGracePeriod.D(),
		RestartPolicy: "no",
		MemoryBytes:   svc.MemoryBytes,
		NanoCPUs:      svc.NanoCPUs,
		Check:         check,
		Files:         serviceFiles(svc, d.Files),
		Options:       containerOptions(svc),
		Ports:         directPorts(svc),
		Expose:        slices.Clone(svc.Expose),
	}
	applyNetworks(&cs, d.App, d.Env, svc)
	return cs
}

// Labels on stateful containers.
const (
	LabelStateful = "berth.stateful"
	// LabelSpec holds the hash of the stateful service's definition the
	// container runs, to tell whether a deploy changes it.
	LabelSpec = "berth.spec"
)

// statefulHash identifies a stateful service's definition: its own
// Compose settings, image ID and the declarations of the volumes it
// mounts that say more than their key (name:, external, driver,
// driver_opts; with none, the hash is the one such services had before
// volumes had declarations). Volume labels are not part of it: they
// apply when a volume is created. The app's configuration variables are
// not either (they reach a stateful service when it is replaced).
func statefulHash(app *spec.App, svc spec.Service, imageID string) string {
	svc = hashedService(svc) // container_options.go: settings applied in place
	var vols []spec.Volume
	for _, m := range svc.Volumes {
		v, ok := app.Volume(m.Source)
		v.Labels = nil
		if ok && m.Type == "volume" && m.Source != "" && !v.Bare() {
			vols = append(vols, v)
		}
	}
	var nets []spec.Network // the declared networks it joins (none: as before)
	for _, sn := range svc.ServiceNetworks() {
		if n, ok := app.Network(sn.Key); ok && !isBare(n) {
			n.Labels = nil
			nets = append(nets, n)
		}
	}
	b, _ := json.Marshal(struct {
		S spec.Service
		I string
		V []spec.Volume  `json:",omitempty"`
		N []spec.Network `json:",omitempty"`
	}{svc, imageID, vols, nets})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
