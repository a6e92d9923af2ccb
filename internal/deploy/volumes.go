package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// Named volumes, as Compose has them on one host:
//   - a volume the file only declares is berth's, scoped to the app and
//     environment (<app>-<env>-<key>), created on the first deploy that
//     mounts it with the file's driver, driver_opts and labels;
//   - name: fixes the engine's name (not scoped: every environment
//     deploying the file shares it), created the same way;
//   - an external volume is used by its own name (name:, else the key)
//     and never created: a deploy that mounts a missing one is refused.
//
// berth never changes or removes a volume: one that exists with another
// driver or other options than the file says is refused with the
// difference (Compose asks before it recreates one, losing the data;
// berth does not ask, it refuses), and its labels are left as they are.
// An anonymous volume is its container's own, removed with it.
//
// On a Swarm cluster, as docker stack deploy does, berth creates no
// volume itself: each task's mount carries the driver, options and
// labels, and the node it lands on creates the volume when it lacks
// it. An external volume is refused there (a node without it would
// create an empty one); only the manager's copy of a volume can be
// compared with the file.

// LabelVolume names, on a volume berth created, the volume's name in the
// Compose file.
const LabelVolume = "berth.volume"

// VolumeStatus is one named volume of an app environment.
type VolumeStatus struct {
	Name       string `json:"name"`        // as in the Compose file
	EngineName string `json:"engine_name"` // the engine's volume name
	// External volumes are the user's: berth mounts them, never creates
	// or removes them.
	External bool     `json:"external,omitempty"`
	Size     int64    `json:"size"`    // bytes; -1 when unknown
	UsedBy   []string `json:"used_by"` // containers mounting it
}

// EngineVolumeName is the engine's name of app's volume key in env: the
// name the file fixes (name:, or an external volume's own), else
// VolumeName(app, env, key).
func EngineVolumeName(app *spec.App, env, key string) string {
	if v, ok := app.Volume(key); ok && v.Name != "" {
		return v.Name
	}
	return VolumeName(app.Name, env, key)
}

// addVolumes records in vols (engine name → declaration) the named
// volumes svc mounts.
func addVolumes(vols map[string]spec.Volume, app *spec.App, env string, svc spec.Service) {
	for _, m := range svc.Volumes {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		def, ok := app.Volume(m.Source)
		if !ok {
			def = spec.Volume{Key: m.Source}
		}
		vols[EngineVolumeName(app, env, m.Source)] = def
	}
}

// mountedVolumes are the named volumes app's services mount in env, by
// engine name.
func mountedVolumes(app *spec.App, env string) map[string]spec.Volume {
	vols := map[string]spec.Volume{}
	for _, svc := range app.Services {
		addVolumes(vols, app, env, svc)
	}
	return vols
}

// checkVolumes refuses, before anything changes, a release whose named
// volumes the engine cannot give it as the file declares them: an
// external volume that does not exist (on a cluster, any external
// volume), or an existing volume whose driver or options differ from
// the file's (on a cluster, the manager's). It creates nothing.
func (d *Deployer) checkVolumes(ctx context.Context, app *spec.App, env string) error {
	vols := mountedVolumes(app, env)
	var refusals []string
	for _, name := range slices.Sorted(maps.Keys(vols)) {
		def := vols[name]
		if def.External && d.cluster != nil {
			refusals = append(refusals, externalOnCluster(name, def))
			continue
		}
		v, err := d.eng.InspectVolume(ctx, name)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			if def.External {
				refusals = append(refusals, missingExternal(name, def))
			}
		case err != nil:
			return fmt.Errorf("volume %s: %w", def.Key, err)
		default:
			if !def.External {
				if diff := volumeDiff(def, v); diff != "" {
					refusals = append(refusals, differentVolume(name, def, diff))
				}
			}
		}
	}
	if len(refusals) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(refusals, "; "))
	}
	return nil
}

// ensureVolumes gives a release its named volumes just before its
// containers start: the external ones must exist (the engine would
// otherwise create an empty one when a container mounts it), the others
// are created when missing and must match the file when not. say reports
// what was done.
func (d *Deployer) ensureVolumes(ctx context.Context, app *spec.App, env string, vols map[string]spec.Volume, say func(string, ...any)) error {
	for _, name := range slices.Sorted(maps.Keys(vols)) {
		def := vols[name]
		if def.External {
			_, err := d.eng.InspectVolume(ctx, name)
			if errors.Is(err, engine.ErrNotFound) {
				return fmt.Errorf("%w: %s", ErrInvalid, missingExternal(name, def))
			}
			if err != nil {
				return fmt.Errorf("volume %s: %w", def.Key, err)
			}
			continue
		}
		v, err := d.eng.EnsureVolume(ctx, volumeSpec(app, env, name, def))
		if err != nil {
			return fmt.Errorf("volume %s: %w", def.Key, err)
		}
		if diff := volumeDiff(def, v); diff != "" {
			return fmt.Errorf("%w: %s", ErrInvalid, differentVolume(name, def, diff))
		}
		if v.Labels[engine.LabelManaged] != "true" {
			say("volume %s: %s exists and was not created by berth: using it as it is (write external: true to say so)", def.Key, name)
		}
	}
	return nil
}

// volumeSpec is how berth creates the volume def, named name: with the
// file's driver, options and labels, and berth's labels over them.
func volumeSpec(app *spec.App, env, name string, def spec.Volume) engine.VolumeSpec {
	labels := maps.Clone(def.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{
		engine.LabelManaged: "true", engine.LabelApp: app.Name, engine.LabelEnv: env, LabelVolume: def.Key,
	})
	return engine.VolumeSpec{Name: name, Driver: def.Driver, DriverOpts: maps.Clone(def.DriverOpts), Labels: labels}
}

// requireExternal refuses to start a container of svc while an external
// volume it mounts is missing: the engine would create an empty one.
func (d *Deployer) requireExternal(ctx context.Context, app *spec.App, env string, svc spec.Service) error {
	vols := map[string]spec.Volume{}
	addVolumes(vols, app, env, svc)
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(vols)) {
		def := vols[name]
		if !def.External {
			continue
		}
		if _, err := d.eng.InspectVolume(ctx, name); errors.Is(err, engine.ErrNotFound) {
			missing = append(missing, missingExternal(name, def))
		} else if err != nil {
			return fmt.Errorf("volume %s: %w", def.Key, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(missing, "; "))
	}
	return nil
}

// missingExternal says that an external volume does not exist and what
// to do.
func missingExternal(name string, def spec.Volume) string {
	which := fmt.Sprintf("volume %q is external", def.Key)
	if name != def.Key {
		which += fmt.Sprintf(" (named %q)", name)
	}
	return fmt.Sprintf("%s but no volume %q exists on this host: create it (docker volume create %s) or restore the data into it, then deploy again; berth never creates an external volume", which, name, name)
}

// externalOnCluster says why a cluster refuses an external volume, and
// what to write instead.
func externalOnCluster(name string, def spec.Volume) string {
	return fmt.Sprintf("volume %q is external (%s): on a Swarm cluster volumes belong to each node, and a node that lacks %s creates an empty one where a task lands, so berth cannot promise the existing data; on a cluster, declare the volume without external: true and with a driver whose volumes reach the same data from every node (e.g. the local driver's NFS options: driver_opts: {type: nfs, o: \"addr=HOST,rw\", device: \":/PATH\"}), or deploy the app on one host", def.Key, name, name)
}

// differentVolume says that an existing volume is not what the file
// declares, and what to do.
func differentVolume(name string, def spec.Volume, diff string) string {
	return fmt.Sprintf("volume %q (%s) exists with another driver or options than the Compose file declares: %s; berth does not recreate a volume (its data would be lost): declare it as it is, or move its data out, remove it (docker volume rm %s) and deploy again", def.Key, name, diff, name)
}

// volumeDiff lists how v differs from def in driver and driver options,
// "" when it does not. Labels are not compared: they are set when a
// volume is created, and Compose ignores them too.
func volumeDiff(def spec.Volume, v engine.Volume) string {
	var diffs []string
	have := v.Driver
	if have == "" {
		have = spec.DefaultVolumeDriver
	}
	if want := def.VolumeDriver(); have != want {
		diffs = append(diffs, fmt.Sprintf("driver %q on the volume, %q in the file", have, want))
	}
	keys := slices.Sorted(maps.Keys(v.Options))
	for k := range def.DriverOpts {
		if _, ok := v.Options[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, inVol := v.Options[k]
		want, inFile := def.DriverOpts[k]
		switch {
		case inVol && inFile && got != want:
			diffs = append(diffs, fmt.Sprintf("driver_opts.%s %q on the volume, %q in the file", k, got, want))
		case inVol && !inFile:
			diffs = append(diffs, fmt.Sprintf("driver_opts.%s %q on the volume, not in the file", k, got))
		case !inVol && inFile:
			diffs = append(diffs, fmt.Sprintf("driver_opts.%s not on the volume, %q in the file", k, want))
		}
	}
	return strings.Join(diffs, ", ")
}

// Volumes lists app/env's named volumes with their sizes: those berth
// created for it, and those with a fixed name (external ones included)
// its live release mounts.
func (d *Deployer) Volumes(ctx context.Context, app, env string) ([]VolumeStatus, error) {
	if _, err := d.store.GetApp(app); err != nil {
		return nil, fmt.Errorf("app %q: %w", app, err)
	}
	live, _ := d.store.LiveRelease(app, env)
	mounted := mountedVolumes(&live.Spec, env)
	all, err := d.eng.ListVolumes(ctx, nil)
	if err != nil {
		return nil, err
	}
	cs, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env})
	if err != nil {
		return nil, err
	}
	out := []VolumeStatus{}
	for _, v := range all {
		def, isMounted := mounted[v.Name]
		ours := v.Labels[engine.LabelApp] == app && v.Labels[engine.LabelEnv] == env && v.Labels[LabelVolume] != ""
		if !ours && !isMounted {
			continue
		}
		st := VolumeStatus{Name: v.Labels[LabelVolume], EngineName: v.Name, External: def.External, Size: v.Size, UsedBy: []string{}}
		if isMounted {
			st.Name = def.Key
		}
		for _, c := range cs {
			svc, ok := live.Spec.Service(c.Labels[engine.LabelService])
			if !ok || c.Labels[engine.LabelRelease] != releaseLabel(live.ID) {
				continue
			}
			for _, m := range svc.Volumes {
				if m.Type == "volume" && m.Source != "" && EngineVolumeName(&live.Spec, env, m.Source) == v.Name {
					st.UsedBy = append(st.UsedBy, c.Name)
				}
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
