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
// returns the reference and the image ID per service. Missing images are
// reported all at once.
func (d *Deployer) resolveImages(ctx context.Context, app *spec.App, t *tracker) (map[string]store.ServiceImage, error) {
	out := make(map[string]store.ServiceImage, len(app.Services))
	var errs []error
	for _, svc := range app.Services {
		img, err := d.resolveImage(ctx, svc.Image, t)
		out[svc.Name] = store.ServiceImage{Image: svc.Image, ImageID: img.ID}
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", svc.Name, err))
			continue
		}
		t.say("image %s: %s (%s)", svc.Name, svc.Image, shortID(img.ID))
		if svc.Routed() && len(img.ExposedPorts) > 0 && !containsInt(img.ExposedPorts, svc.Port) {
			t.say("warning: image %s exposes %v but x-berth.port of %s is %d", svc.Image, img.ExposedPorts, svc.Name, svc.Port)
		}
	}
	return out, errors.Join(errs...)
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
		return engine.Image{}, fmt.Errorf("image %s is not on this host and could not be pulled (%v); build it (docker build -t %s .) or check the registry name and credentials", ref, perr, ref)
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
