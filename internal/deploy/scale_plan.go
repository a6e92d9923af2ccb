package deploy

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// The replicas rule, the same on both engines: berth scale sets a
// service's count over its Compose file's deploy.replicas, and records
// the file's value at that moment. A later deploy, rollback, promote or
// reconfigure keeps the scaled count for as long as the release's file
// still says that value; a release whose file says another value runs
// the file's count, and once it is live the scale is forgotten (the file
// spoke last). Removing the environment forgets every scale.

// ScaledApp returns app with the replica counts of the scales that hold
// for it (see above), and the services whose scale no longer holds: the
// release's file changed their deploy.replicas, or no longer has them.
// app is not changed.
func ScaledApp(app spec.App, scales map[string]store.Scale) (spec.App, []string) {
	app.Services = slices.Clone(app.Services)
	var stale []string
	for _, name := range slices.Sorted(mapsKeys(scales)) {
		sc := scales[name]
		i := slices.IndexFunc(app.Services, func(s spec.Service) bool { return s.Name == name })
		if i < 0 || app.Services[i].Replicas != sc.File {
			stale = append(stale, name)
			continue
		}
		app.Services[i].Replicas = sc.Replicas
	}
	return app, stale
}

// ScaleTarget is one SERVICE=N of a scale.
type ScaleTarget struct {
	Service  string `json:"service"`
	Replicas int    `json:"replicas"`
}

// scaleStep is what a scale does to one service of the live release.
type scaleStep struct {
	svc      spec.Service // with Replicas = To
	from, to int          // desired count before and after
	// keep are the running containers that stay; start the replica
	// indexes to start; remove the running containers to take away.
	keep   []engine.Container
	start  []int
	remove []engine.Container
}

// planScale is the pure part of a scale: for each target, the live
// release's running containers of its service (running, not one-off,
// not retiring), which stay, which go and which replica indexes start.
// app is the live release's definition with the scales in force;
// healthy says whether the proxy has a container in rotation (scale-in
// takes the unhealthy ones first, then the highest replica indexes).
// Every error is one a user can fix, and says how.
func planScale(app *spec.App, rel int64, targets []ScaleTarget, running []engine.Container, healthy func(id string) bool) ([]scaleStep, error) {
	var errs []string
	var out []scaleStep
	for _, t := range targets {
		svc, ok := app.Service(t.Service)
		if !ok {
			names := make([]string, len(app.Services))
			for i, s := range app.Services {
				names[i] = s.Name
			}
			errs = append(errs, fmt.Sprintf("service %q is not in release %d of %s: its services are %s", t.Service, rel, app.Name, strings.Join(names, ", ")))
			continue
		}
		if why := scaleRefusal(app, *svc, t.Replicas); why != "" {
			errs = append(errs, fmt.Sprintf("service %q: %s", svc.Name, why))
			continue
		}
		var cs []engine.Container
		for _, c := range running {
			if c.Labels[engine.LabelService] == svc.Name {
				cs = append(cs, c)
			}
		}
		st := scaleStep{svc: *svc, from: svc.Replicas, to: t.Replicas}
		st.svc.Replicas = t.Replicas
		if svc.Stateful {
			// At its one replica (scaleRefusal): its container may be an
			// older release's, kept; nothing starts or stops.
			out = append(out, st)
			continue
		}
		// Take away the unhealthy first, then the highest indexes (the
		// newest): the replicas that served longest stay.
		slices.SortStableFunc(cs, func(a, b engine.Container) int {
			ha, hb := healthy(a.ID), healthy(b.ID)
			if ha != hb {
				if ha {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(replicaIndex(a), replicaIndex(b)), a.Created.Compare(b.Created), strings.Compare(a.Name, b.Name))
		})
		if len(cs) > t.Replicas {
			st.keep, st.remove = cs[:t.Replicas], cs[t.Replicas:]
		} else {
			st.keep = cs
			used := map[int]bool{}
			for _, c := range cs {
				used[replicaIndex(c)] = true
			}
			for i := 1; len(st.start) < t.Replicas-len(cs); i++ {
				if !used[i] {
					st.start = append(st.start, i)
				}
			}
		}
		out = append(out, st)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return out, nil
}

// scaleRefusal says why svc of app cannot run n replicas ("" when it
// can).
func scaleRefusal(app *spec.App, svc spec.Service, n int) string {
	switch {
	case n < 0:
		return fmt.Sprintf("%d replicas: give a count of 0 or more", n)
	case n == 0 && svc.Routed():
		return fmt.Sprintf("it answers %s and needs at least one replica: scale it to 1 or more (berth maintenance on %s answers 503 while it is down)", strings.Join(svc.Hosts, ", "), app.Name)
	case n > maxScale:
		return fmt.Sprintf("%d replicas is more than berth scale starts at once (%d): scale in steps, or set deploy.replicas", n, maxScale)
	case svc.Stateful && n != svc.Replicas:
		return "it is stateful (x-berth.stateful: true): it runs one container, one writer on its volumes, and cannot be scaled; move its state to a shared store, then drop x-berth.stateful to run replicas"
	case len(svc.Ports) > 0:
		return "it publishes ports (ports:), whose listener berth scale does not move yet: set deploy.replicas in the Compose file and deploy"
	case strings.HasPrefix(svc.NetworkMode, "service:"):
		return fmt.Sprintf("it shares the network of %s (network_mode: %s) replica by replica: set deploy.replicas of both in the Compose file and deploy", strings.TrimPrefix(svc.NetworkMode, "service:"), svc.NetworkMode)
	case svc.ContainerName != "" && n > 1:
		return fmt.Sprintf("container_name: %s names one container: remove it to run %d replicas", svc.ContainerName, n)
	case svc.Container != nil && slices.ContainsFunc(svc.Container.VolumesFrom, func(v string) bool { return !strings.HasPrefix(v, "container:") }):
		return "it mounts another service's volumes (volumes_from), which berth scale does not resolve: set deploy.replicas in the Compose file and deploy"
	}
	for _, o := range app.Services {
		if o.NetworkMode == "service:"+svc.Name {
			return fmt.Sprintf("%s shares its network replica by replica (network_mode: service:%s): set deploy.replicas of both in the Compose file and deploy", o.Name, svc.Name)
		}
	}
	return ""
}

// maxScale bounds one service's replicas in one berth scale.
const maxScale = 100

// replicaIndex is the replica number in a container's name
// (ContainerName: APP-ENV-SERVICE-rREL-INDEX[-SUFFIX]), 0 when the
// name has none.
func replicaIndex(c engine.Container) int {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(c.Name, "/"), fmt.Sprintf("%s-%s-%s-r%s-",
		c.Labels[engine.LabelApp], c.Labels[engine.LabelEnv], c.Labels[engine.LabelService], c.Labels[engine.LabelRelease]))
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
	return n
}
