package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// resolveImages finds (pulling when missing) each service's image and
// returns the reference and the image ID per service. Each image is
// looked up once however many services use it, and the images that are
// missing are reported all at once, one line each with its fix.
func (d *Deployer) resolveImages(ctx context.Context, app *spec.App, t *tracker) (map[string]store.ServiceImage, error) {
	out := make(map[string]store.ServiceImage, len(app.Services))
	type lookup struct {
		img engine.Image
		err error
	}
	found := map[string]lookup{}
	var problems []*imageProblem
	byRef := map[string]*imageProblem{}
	for _, svc := range app.Services {
		l, seen := found[svc.Image]
		if !seen {
			l.img, l.err = d.resolveImageByPolicy(ctx, app, svc.Image, t)
			found[svc.Image] = l
		}
		out[svc.Name] = store.ServiceImage{Image: svc.Image, ImageID: l.img.ID}
		if l.err != nil {
			p := byRef[svc.Image]
			if p == nil {
				p = &imageProblem{ref: svc.Image, err: l.err, haveAuth: d.registryAuth(svc.Image) != nil}
				byRef[svc.Image] = p
				problems = append(problems, p)
			}
			p.services = append(p.services, svc.Name)
			if p.build == nil {
				p.build = svc.Build
			}
			continue
		}
		t.say("image %s: %s (%s)", svc.Name, svc.Image, shortID(l.img.ID))
		if svc.Routed() && len(l.img.ExposedPorts) > 0 && !containsInt(l.img.ExposedPorts, svc.Port) {
			t.say("warning: image %s exposes %v but %s is routed to port %d (x-berth.port sets the port it listens on)", svc.Image, l.img.ExposedPorts, svc.Name, svc.Port)
		}
	}
	return out, imageProblems(problems)
}

func (d *Deployer) resolveImage(ctx context.Context, ref string, t *tracker) (engine.Image, error) {
	img, err := d.eng.InspectImage(ctx, ref)
	if err == nil {
		return img, nil
	}
	if !errors.Is(err, engine.ErrImageNotFound) {
		return engine.Image{}, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	t.say("pulling %s", ref)
	var last time.Time
	perr := d.eng.PullImage(ctx, ref, d.registryAuth(ref), func(line string) {
		if now := d.now(); now.Sub(last) > time.Second {
			last = now
			t.say("pull %s: %s", ref, line)
		}
	})
	if perr != nil {
		return engine.Image{}, &pullError{ref: ref, err: perr}
	}
	img, err = d.eng.InspectImage(ctx, ref)
	if err != nil {
		return engine.Image{}, fmt.Errorf("image %s pulled but cannot be inspected: %w", ref, err)
	}
	return img, nil
}

func shortID(id string) string {
	const p = "sha256:"
	if len(id) > len(p) && id[:len(p)] == p {
		id = id[len(p):]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
