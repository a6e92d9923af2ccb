package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// checkStore: exactly one live release, at most one canary (the one the
// status names), no deployment left running.
func (r *crashRig) checkStore() []string {
	ctx := context.Background()
	var bad []string
	rels, err := r.s.c.Releases(ctx, r.name, spec.DefaultEnv)
	if err != nil {
		return []string{"releases: " + err.Error()}
	}
	var live, canary []int64
	for _, rel := range rels {
		switch rel.Status {
		case dto.StatusLive:
			live = append(live, rel.ID)
		case dto.StatusCanary:
			canary = append(canary, rel.ID)
		}
	}
	if len(live) != 1 {
		bad = append(bad, fmt.Sprintf("%d live releases %v", len(live), live))
	}
	st, err := r.s.c.Status(ctx, r.name, spec.DefaultEnv)
	if err != nil {
		return append(bad, "status: "+err.Error())
	}
	switch {
	case len(canary) > 1:
		bad = append(bad, fmt.Sprintf("%d canary releases %v", len(canary), canary))
	case len(canary) == 1 && (st.Canary == nil || st.Canary.Release.ID != canary[0]):
		bad = append(bad, fmt.Sprintf("release %d is marked canary, the status has canary %+v", canary[0], st.Canary))
	case len(canary) == 0 && st.Canary != nil:
		bad = append(bad, fmt.Sprintf("the status has canary %d, no release is marked canary", st.Canary.Release.ID))
	}
	deps, err := r.s.c.Deployments(ctx, r.name, spec.DefaultEnv, 500)
	if err != nil {
		return append(bad, "deployments: "+err.Error())
	}
	for _, d := range deps {
		if d.Status == dto.DeploymentRunning {
			bad = append(bad, fmt.Sprintf("deployment %d (%s of release %d) left running", d.ID, d.Kind, d.ReleaseID))
		}
	}
	return bad
}

// checkConfig: the configuration and the secrets' names are what was
// last acknowledged, or what the interrupted action would have made
// them (a rollback restores its release's).
func (r *crashRig) checkConfig(tr crashTrial, want dto.ConfigView) []string {
	got := r.config(r.t)
	ok := []dto.ConfigView{r.acked, want}
	if tr.Action == "rollback" {
		if st, err := r.s.c.Status(context.Background(), r.name, spec.DefaultEnv); err == nil && st.Live != nil {
			ok = append(ok, dto.ConfigView{Config: st.Live.Config, Secrets: st.Live.SecretNames})
		}
	}
	for _, v := range ok {
		if sameConfig(got, v) {
			return nil
		}
	}
	return []string{fmt.Sprintf("config %v secrets %v: last acknowledged %v %v, the action's %v %v",
		got.Config, got.Secrets, r.acked.Config, r.acked.Secrets, want.Config, want.Secrets)}
}

func sameConfig(a, b dto.ConfigView) bool {
	norm := func(ss []string) []string { ss = slices.Clone(ss); slices.Sort(ss); return ss }
	return maps.Equal(a.Config, b.Config) && slices.Equal(norm(a.Secrets), norm(b.Secrets))
}

// checkEngine waits (30s at most) for converge to leave running only
// the live and canary releases' containers, each with the restart policy
// berth gives live containers, as many of the live release's as the
// status's replicas, and the proxy answering from the app. It returns
// what was still wrong at the deadline.
func (r *crashRig) checkEngine() []string {
	deadline := time.Now().Add(30 * time.Second)
	for {
		why := r.engineWrong()
		if len(why) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return why
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *crashRig) engineWrong() []string {
	ctx := context.Background()
	st, err := r.s.c.Status(ctx, r.name, spec.DefaultEnv)
	if err != nil || st.Live == nil {
		return []string{fmt.Sprintf("status: no live release (%v)", err)}
	}
	keep := map[string]bool{fmt.Sprint(st.Live.ID): true}
	if st.Canary != nil {
		keep[fmt.Sprint(st.Canary.Release.ID)] = true
	}
	cs, err := r.eng.ListContainers(ctx, map[string]string{engine.LabelApp: r.name})
	if err != nil {
		return []string{"list containers: " + err.Error()}
	}
	var bad []string
	liveWeb := 0
	for _, c := range cs {
		if !c.Running() || c.Labels[deploy.LabelOneOff] == "true" {
			continue
		}
		rel := c.Labels[engine.LabelRelease]
		if !keep[rel] {
			bad = append(bad, fmt.Sprintf("container %s of release %s runs (live %d, canary %v)", c.Name, rel, st.Live.ID, st.Canary != nil))
			continue
		}
		if c.RestartPolicy != "unless-stopped" {
			bad = append(bad, fmt.Sprintf("container %s of release %s has restart policy %q", c.Name, rel, c.RestartPolicy))
		}
		if rel == fmt.Sprint(st.Live.ID) && c.Labels[engine.LabelService] == "web" {
			liveWeb++
		}
	}
	for _, svc := range st.Services {
		if svc.Name == "web" && svc.Replicas != liveWeb {
			bad = append(bad, fmt.Sprintf("release %d runs %d web containers, the status wants %d", st.Live.ID, liveWeb, svc.Replicas))
		}
	}
	if code, body, err := getWith(ctx, noKeepAlive, r.s.httpAddr, r.host, "/"); err != nil || code != 200 || !strings.HasPrefix(body, "v") {
		bad = append(bad, fmt.Sprintf("the proxy answers %d %q %v", code, body, err))
	}
	return bad
}

// noKeepAlive sends each check on a connection of its own, with a
// deadline.
var noKeepAlive = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
