package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// LabelOneOff marks one-off containers (release commands, berth run):
// reconcile leaves them to whoever started them.
const LabelOneOff = "berth.oneoff"

// releasePhase runs each service's release_command once, in a one-off
// container of the new image with the new configuration, before any new
// container starts. A non-zero exit refuses the release.
func (d *Deployer) releasePhase(ctx context.Context, x *execution, plan Plan) error {
	for _, svc := range x.app.Services {
		if len(svc.ReleaseCommand) == 0 {
			continue
		}
		cs, ok := placementSpec(plan, svc.Name)
		if !ok {
			continue
		}
		cs.Name = strings.TrimSuffix(cs.Name, "-1-"+lastPart(cs.Name)) + "-release-" + lastPart(cs.Name)
		cs.Cmd = svc.ReleaseCommand
		x.t.say("release command of %s: %s", svc.Name, strings.Join(svc.ReleaseCommand, " "))
		var tail []string
		code, err := d.runOneOff(ctx, cs, func(line string) {
			x.t.say("  %s | %s", svc.Name, line)
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		})
		if err != nil {
			return fmt.Errorf("service %q: release command: %w", svc.Name, err)
		}
		if code != 0 {
			out := ""
			if len(tail) > 0 {
				out = "\nits last output:\n  | " + strings.Join(tail, "\n  | ")
			}
			return fmt.Errorf("service %q: release command %q exited with code %d; no traffic moved%s", svc.Name, strings.Join(svc.ReleaseCommand, " "), code, out)
		}
		x.t.say("release command of %s succeeded", svc.Name)
	}
	return nil
}

func placementSpec(plan Plan, service string) (engine.ContainerSpec, bool) {
	for _, p := range plan.Start {
		if p.Service == service {
			s := p.Spec
			s.Labels = make(map[string]string, len(p.Spec.Labels)+1)
			for k, v := range p.Spec.Labels {
				s.Labels[k] = v
			}
			s.Labels[LabelOneOff] = "true"
			delete(s.Labels, LabelStateful)
			s.Aliases = nil
			s.RestartPolicy = "no"
			return s, true
		}
	}
	return engine.ContainerSpec{}, false
}

func lastPart(name string) string {
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// runOneOff runs a one-off container to completion (engine.RunOnce).
func (d *Deployer) runOneOff(ctx context.Context, cs engine.ContainerSpec, out func(string)) (int, error) {
	return engine.RunOnce(ctx, d.eng, cs, out)
}

// Run runs cmd in a one-off container of app/env's live release for
// service: its image, configuration, secrets, network and volumes. It
// copies the output to w and returns the command's exit code. An empty
// cmd runs the service's own command.
func (d *Deployer) Run(ctx context.Context, app, env, service string, cmd []string, w io.Writer) (int, error) {
	live, err := d.store.LiveRelease(app, env)
	if err != nil {
		return -1, fmt.Errorf("%s/%s has no live release to run %s from (deploy it first): %w", app, env, service, err)
	}
	svc, ok := live.Spec.Service(service)
	if !ok {
		names := make([]string, 0, len(live.Spec.Services))
		for _, s := range live.Spec.Services {
			names = append(names, s.Name)
		}
		return -1, fmt.Errorf("%w: release %d of %s/%s has no service %q (it has %s)", store.ErrNotFound, live.ID, app, env, service, strings.Join(names, ", "))
	}
	vars, err := d.releaseEnv(live)
	if err != nil {
		return -1, err
	}
	images := map[string]string{}
	for name, si := range live.Services {
		images[name] = si.ImageID
	}
	one := spec.App{Name: app, Services: []spec.Service{*svc}}
	one.Services[0].Replicas = 1
	plan := MakePlan(Desired{App: &one, Env: env, Release: live.ID, Images: images, Suffix: randomSuffix(), Vars: vars}, nil)
	cs, _ := placementSpec(plan, service)
	cs.Name = strings.Replace(cs.Name, fmt.Sprintf("-r%d-1-", live.ID), fmt.Sprintf("-r%d-run-", live.ID), 1)
	if len(cmd) > 0 {
		cs.Cmd = cmd
	}
	code, err := d.runOneOff(ctx, cs, func(line string) { fmt.Fprintln(w, line) })
	if err != nil && !errors.Is(err, context.Canceled) {
		return code, fmt.Errorf("run %s in %s/%s: %w", strings.Join(cmd, " "), app, env, err)
	}
	return code, err
}
