package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

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
		if err := d.releaseVolumesFrom(ctx, x, svc, &cs); err != nil { // container_options.go
			return fmt.Errorf("service %q: release command: %w", svc.Name, err)
		}
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
			oneOffNetworking(&s)
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
	cs, err := d.oneOffSpec(ctx, app, env, service, cmd)
	if err != nil {
		return -1, err
	}
	code, err := d.runOneOff(ctx, cs, func(line string) { fmt.Fprintln(w, line) })
	if err != nil && !errors.Is(err, context.Canceled) {
		return code, fmt.Errorf("run %s in %s/%s: %w", strings.Join(cmd, " "), app, env, err)
	}
	return code, err
}

// RunTTY is Run with a terminal: the container gets a TTY of the given
// size, stdin feeds its input, its raw output goes to stdout, and
// resizes arrive on resize (closed or nil when there are none).
func (d *Deployer) RunTTY(ctx context.Context, app, env, service string, cmd []string, rows, cols uint, stdin io.Reader, stdout io.Writer, resize <-chan [2]uint) (int, error) {
	cs, err := d.oneOffSpec(ctx, app, env, service, cmd)
	if err != nil {
		return -1, err
	}
	cs.TTY, cs.OpenStdin, cs.NoStart = true, true, true
	c, err := d.eng.CreateContainer(ctx, cs)
	if c.ID != "" {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = d.eng.RemoveContainer(rctx, c.ID)
		}()
	}
	if err != nil {
		return -1, err
	}
	att, err := d.eng.Attach(ctx, c.ID)
	if err != nil {
		return -1, err
	}
	defer att.Close()
	if err := d.eng.StartContainer(ctx, c.ID); err != nil {
		return -1, err
	}
	if rows > 0 && cols > 0 {
		_ = d.eng.ResizeTTY(ctx, c.ID, rows, cols)
	}
	// On a terminal, input ends when the user types Ctrl-D, which the
	// terminal sees; closing the stream would detach the output too.
	go func() { _, _ = io.Copy(att, stdin) }()
	go func() {
		for sz := range resize {
			_ = d.eng.ResizeTTY(ctx, c.ID, sz[0], sz[1])
		}
	}()
	_, _ = io.Copy(stdout, att) // ends when the container's output closes
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ci, err := d.eng.InspectContainer(ctx, c.ID)
		if err != nil {
			return -1, err
		}
		if ci.State == engine.StateExited || ci.State == engine.StateDead {
			return ci.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-tick.C:
		}
	}
}

// oneOffSpec is the container spec of a one-off command in app/env's
// live release for service.
func (d *Deployer) oneOffSpec(ctx context.Context, app, env, service string, cmd []string) (engine.ContainerSpec, error) {
	live, err := d.store.LiveRelease(app, env)
	if err != nil {
		return engine.ContainerSpec{}, fmt.Errorf("%s/%s has no live release to run %s from (deploy it first): %w", app, env, service, err)
	}
	return d.oneOffSpecOf(ctx, live, service, cmd)
}

// oneOffSpecOf is oneOffSpec for a release already read (a job's run
// records the release it read).
func (d *Deployer) oneOffSpecOf(ctx context.Context, live store.Release, service string, cmd []string) (engine.ContainerSpec, error) {
	app, env := live.App, live.Env
	svc, ok := live.Spec.Service(service)
	if !ok {
		names := make([]string, 0, len(live.Spec.Services))
		for _, s := range live.Spec.Services {
			names = append(names, s.Name)
		}
		return engine.ContainerSpec{}, fmt.Errorf("%w: release %d of %s/%s has no service %q (it has %s)", store.ErrNotFound, live.ID, app, env, service, strings.Join(names, ", "))
	}
	vars, err := d.releaseEnv(live)
	if err != nil {
		return engine.ContainerSpec{}, err
	}
	files, err := d.releaseFiles(live, &live.Spec)
	if err != nil {
		return engine.ContainerSpec{}, err
	}
	images := map[string]string{}
	for name, si := range live.Services {
		images[name] = si.ImageID
	}
	if err := d.requireExternal(ctx, &live.Spec, env, *svc); err != nil {
		return engine.ContainerSpec{}, err
	}
	one := spec.App{Name: app, Services: []spec.Service{*svc}, Volumes: live.Spec.Volumes, Networks: live.Spec.Networks}
	one.Services[0].Replicas = 1
	one.Services[0].Stateful = false
	plan := MakePlan(Desired{App: &one, Env: env, Release: live.ID, Images: images, Suffix: randomSuffix(), Vars: vars, Files: files}, nil)
	cs, _ := placementSpec(plan, service)
	cs.Name = strings.Replace(cs.Name, fmt.Sprintf("-r%d-1-", live.ID), fmt.Sprintf("-r%d-run-", live.ID), 1)
	cs.Check = nil
	if err := d.resolveOneOffVolumesFrom(ctx, app, env, live.ID, &cs); err != nil {
		return engine.ContainerSpec{}, fmt.Errorf("run %s in %s/%s: %w", service, app, env, err)
	}
	if err := d.oneOffServiceMode(ctx, app, env, live.ID, &cs); err != nil {
		return engine.ContainerSpec{}, err
	}
	if len(cmd) > 0 {
		cs.Cmd = cmd
	}
	return cs, nil
}
