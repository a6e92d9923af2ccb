package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/store"
)

// CloneOptions say how a cloned environment differs from its source.
type CloneOptions struct {
	// Hosts gives the cloned environment's host names per routed service.
	// A service not named gets "<to>.<host>" for each of its hosts.
	Hosts map[string][]string `json:"hosts,omitempty"`
}

// Clone copies app's from environment into to: the live release's
// definition and images, and the configuration variables — not the data
// (to gets its own, empty volumes, but for the volumes whose name the
// file fixes, name: or external, which both environments share as
// Compose would: they are reported) and not the secrets (set them for to
// with berth secrets set; their names are reported). Then it deploys to.
func (d *Deployer) Clone(ctx context.Context, app, from, to string, opts CloneOptions, progress ProgressFunc) (store.Deployment, error) {
	if from == to {
		return store.Deployment{}, fmt.Errorf("%w: cloning %s/%s onto itself", ErrInvalid, app, from)
	}
	live, err := d.store.LiveRelease(app, from)
	if err != nil {
		return store.Deployment{}, fmt.Errorf("%s/%s has no live release to clone: %w", app, from, err)
	}
	if existing, err := d.store.LiveRelease(app, to); err == nil {
		return store.Deployment{}, fmt.Errorf("%w: %s/%s exists already (release %d is live); clone into a new environment", ErrInvalid, app, to, existing.ID)
	}
	def := live.Spec
	def.Services = append(def.Services[:0:0], live.Spec.Services...)
	if err := d.restoreSecretContent(&def, live); err != nil {
		return store.Deployment{}, err
	}
	for i, svc := range def.Services {
		if !svc.Routed() {
			continue
		}
		hosts, ok := opts.Hosts[svc.Name]
		if !ok {
			hosts = make([]string, len(svc.Hosts))
			for j, h := range svc.Hosts {
				hosts[j] = to + "." + h
			}
		}
		def.Services[i].Hosts = hosts
	}
	if err := def.Validate(); err != nil {
		return store.Deployment{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	unlock, err := d.tryLock(app, to, store.KindDeploy)
	if err != nil {
		return store.Deployment{}, err
	}
	defer unlock()
	for _, svc := range def.Services {
		if svc.Routed() {
			if err := d.proxy.CheckRoute(routeKey(app, to, svc.Name), svc.Hosts, routeOptions(svc)); err != nil {
				return store.Deployment{}, fmt.Errorf("%w: service %q: %v (choose other hosts with --host)", ErrInvalid, svc.Name, err)
			}
		}
	}
	cfg, err := d.store.Config(app, from)
	if err != nil {
		return store.Deployment{}, err
	}
	if _, err := d.store.SetConfig(app, to, cfg, nil); err != nil {
		return store.Deployment{}, err
	}
	t := newTracker(d.now, progress)
	t.say("cloning %s/%s (release %d) into %s: definition, images and %d configuration variable(s)", app, from, live.ID, to, len(cfg))
	for _, svc := range def.Services {
		if svc.Routed() {
			t.say("%s/%s %s answers %s", app, to, svc.Name, strings.Join(svc.Hosts, ", "))
		}
	}
	shared := mountedVolumes(&def, to)
	for _, name := range slices.Sorted(maps.Keys(shared)) {
		if v := shared[name]; v.Name != "" {
			t.say("volume %s is named %s in the Compose file (not scoped to an environment): %s/%s mounts the same volume as %s, not an empty one", v.Key, name, app, to, from)
		}
	}
	if names, _ := d.store.SecretNames(app, from); len(names) > 0 {
		have, _ := d.store.SecretNames(app, to)
		var missing []string
		for _, n := range names {
			if !contains(have, n) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			t.say("secrets are not copied: set %s for %s with berth secrets set %s KEY --env %s", strings.Join(missing, ", "), to, app, to)
		}
	}
	return d.deployImages(ctx, &def, to, live.Services, t, DeployOptions{})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
