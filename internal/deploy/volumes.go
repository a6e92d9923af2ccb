package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// LabelVolume names, on a volume berth created, the volume's name in the
// Compose file.
const LabelVolume = "berth.volume"

// VolumeStatus is one named volume of an app environment.
type VolumeStatus struct {
	Name       string   `json:"name"`        // as in the Compose file
	EngineName string   `json:"engine_name"` // the engine's volume name
	Size       int64    `json:"size"`        // bytes; -1 when unknown
	UsedBy     []string `json:"used_by"`     // containers mounting it
}

// Volumes lists app/env's named volumes with their sizes.
func (d *Deployer) Volumes(ctx context.Context, app, env string) ([]VolumeStatus, error) {
	if _, err := d.store.GetApp(app); err != nil {
		return nil, fmt.Errorf("app %q: %w", app, err)
	}
	vols, err := d.eng.ListVolumes(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env})
	if err != nil {
		return nil, err
	}
	cs, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env})
	if err != nil {
		return nil, err
	}
	live, _ := d.store.LiveRelease(app, env)
	out := make([]VolumeStatus, 0, len(vols))
	for _, v := range vols {
		st := VolumeStatus{Name: v.Labels[LabelVolume], EngineName: v.Name, Size: v.Size, UsedBy: []string{}}
		for _, c := range cs {
			if svc, ok := live.Spec.Service(c.Labels[engine.LabelService]); ok && c.Labels[engine.LabelRelease] == releaseLabel(live.ID) {
				for _, m := range svc.Volumes {
					if m.Type == "volume" && m.Source == st.Name {
						st.UsedBy = append(st.UsedBy, c.Name)
					}
				}
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// checkBinds refuses bind mounts outside the server's bind root.
func (d *Deployer) checkBinds(app *spec.App) error {
	for _, svc := range app.Services {
		for _, m := range svc.Volumes {
			if m.Type != "bind" {
				continue
			}
			if d.bindRoot == "" {
				return fmt.Errorf("%w: service %q: bind mount %s: this server allows no bind mounts; use a named volume, or start berth server with --bind-root DIR and keep host paths under it", ErrInvalid, svc.Name, m.Source)
			}
			rel, err := filepath.Rel(d.bindRoot, filepath.Clean(m.Source))
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
				return fmt.Errorf("%w: service %q: bind mount %s is outside the server's --bind-root %s; move it under %s or use a named volume", ErrInvalid, svc.Name, m.Source, d.bindRoot, d.bindRoot)
			}
		}
	}
	return nil
}
