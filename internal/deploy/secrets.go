package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Compose secrets and configs as files.
//
// The content of a file: or environment: secret arrives with the
// definition (the CLI read it), is sealed into the release by the store
// (store.Release.SecretFiles) and cleared from the definition before it
// is stored, so neither the stored release, the API nor the stateful
// hash (a container label) ever holds it. An external: secret is one of
// berth's own secrets of the environment, snapshotted per release by
// the store. Either way a release, and a rollback to it, mounts the
// content it was created with.

// sealedRelease is the release record of app in env running images: its
// secrets' content taken out of app (which keeps a copy of its services
// without it) into the record's SecretFiles.
func sealedRelease(app *spec.App, env string, images map[string]store.ServiceImage) store.Release {
	content := map[string]string{}
	services := slices.Clone(app.Services)
	for i := range services {
		if len(services[i].Secrets) == 0 {
			continue
		}
		secrets := slices.Clone(services[i].Secrets)
		for j := range secrets {
			if secrets[j].Store == "" {
				content[secrets[j].Name] = secrets[j].Content
			}
			secrets[j].Content = ""
		}
		services[i].Secrets = secrets
	}
	app.Services = services
	r := store.Release{App: app.Name, Env: env, Services: images, Spec: *app}
	if len(content) > 0 {
		r.SecretFiles = content
	}
	return r
}

// restoreSecretContent puts the content release rel sealed back into
// app's secrets (a definition taken from rel.Spec), for a new release
// made from it (a reconfigure, a clone).
func (d *Deployer) restoreSecretContent(app *spec.App, rel store.Release) error {
	content, err := d.store.ReleaseSecretFiles(rel.App, rel.Env, rel.ID)
	if err != nil {
		return fmt.Errorf("secrets of release %d: %w", rel.ID, err)
	}
	services := slices.Clone(app.Services)
	for i := range services {
		secrets := slices.Clone(services[i].Secrets)
		for j, sf := range secrets {
			if sf.Store != "" {
				continue
			}
			v, ok := content[sf.Name]
			if !ok {
				return fmt.Errorf("release %d of %s/%s lacks the content of secret %q of service %q: deploy the Compose file again", rel.ID, rel.App, rel.Env, sf.Name, services[i].Name)
			}
			secrets[j].Content = v
		}
		services[i].Secrets = secrets
	}
	app.Services = services
	return nil
}

// checkStoreSecrets refuses, before anything changes, a definition
// whose external secrets are not set in berth's store for app/env.
func (d *Deployer) checkStoreSecrets(app *spec.App, env string) error {
	var want []string
	for _, svc := range app.Services {
		for _, sf := range svc.Secrets {
			if sf.Store != "" && !slices.Contains(want, sf.Store) {
				want = append(want, sf.Store)
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	have, err := d.store.SecretNames(app.Name, env)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var missing []string
	for _, n := range want {
		if !slices.Contains(have, n) {
			missing = append(missing, n)
		}
	}
	return missingSecrets(app.Name, env, missing)
}

func missingSecrets(app, env string, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	cmds := make([]string, len(missing))
	for i, n := range missing {
		cmds[i] = fmt.Sprintf("berth secrets set %s %s --env %s < FILE", app, n, env)
	}
	return fmt.Errorf("%w: the Compose file mounts external secret(s) %s, not set in berth's secrets of %s/%s: set them first (%s), then deploy again",
		ErrInvalid, strings.Join(missing, ", "), app, env, strings.Join(cmds, "; "))
}

// releaseFiles is the content of every secret app's services mount in
// release rel, by the secret's key: file: and environment: secrets as
// sealed into rel, external ones from rel's snapshot of berth's secrets.
func (d *Deployer) releaseFiles(rel store.Release, app *spec.App) (map[string]string, error) {
	var need bool
	for _, svc := range app.Services {
		need = need || len(svc.Secrets) > 0
	}
	if !need {
		return nil, nil
	}
	sealed, err := d.store.ReleaseSecretFiles(rel.App, rel.Env, rel.ID)
	if err != nil {
		return nil, fmt.Errorf("secrets of release %d: %w", rel.ID, err)
	}
	own, err := d.store.ReleaseSecrets(rel.App, rel.Env, rel.ID)
	if err != nil {
		return nil, fmt.Errorf("secrets of release %d: %w", rel.ID, err)
	}
	out := map[string]string{}
	var missing []string
	for _, svc := range app.Services {
		for _, sf := range svc.Secrets {
			if sf.Store != "" {
				v, ok := own[sf.Store]
				if !ok {
					if !slices.Contains(missing, sf.Store) {
						missing = append(missing, sf.Store)
					}
					continue
				}
				out[sf.Name] = v
				continue
			}
			v, ok := sealed[sf.Name]
			if !ok {
				return nil, fmt.Errorf("release %d of %s/%s lacks the content of secret %q of service %q: deploy the Compose file again", rel.ID, rel.App, rel.Env, sf.Name, svc.Name)
			}
			out[sf.Name] = v
		}
	}
	if err := missingSecrets(rel.App, rel.Env, missing); err != nil {
		return nil, fmt.Errorf("release %d was created without them: %w", rel.ID, err)
	}
	return out, nil
}

// serviceFiles are the files svc's containers get on one host: its
// secrets (content from data, by key) and configs, with owner and mode.
func serviceFiles(svc spec.Service, data map[string]string) []engine.File {
	var out []engine.File
	for _, sf := range svc.Secrets {
		v, ok := data[sf.Name]
		if !ok {
			continue // releaseFiles reported it
		}
		out = append(out, engine.File{Path: sf.Target, Data: []byte(v), UID: atoi(sf.UID), GID: atoi(sf.GID), Mode: sf.Mode})
	}
	for _, cf := range svc.Configs {
		out = append(out, engine.File{Path: cf.Target, Data: []byte(cf.Content), UID: atoi(cf.UID), GID: atoi(cf.GID), Mode: cf.Mode})
	}
	return out
}

// atoi reads a uid or gid spec.Validate checked (empty: root).
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// clusterComposeSecrets stores svc's Compose secrets as cluster secrets
// (content-addressed: a changed value is a new secret, and the
// workload's previous spec keeps the old one) and mounts them in ws
// with their target, owner and mode. A Compose secret mounted where one
// of berth's own secrets would be replaces it there.
func (d *Deployer) clusterComposeSecrets(ctx context.Context, w engine.Workloads, x *execution, svc spec.Service, ws *engine.WorkloadSpec) error {
	if len(svc.Secrets) == 0 {
		return nil
	}
	data, err := d.releaseFiles(x.rel, x.app)
	if err != nil {
		return err
	}
	mounts := slices.Clone(ws.Secrets)
	for _, sf := range svc.Secrets {
		name, err := w.EnsureSecret(ctx, "berth-"+x.app.Name+"-"+x.env+"-"+svc.Name+"-"+strings.ToLower(sf.Name), []byte(data[sf.Name]), map[string]string{
			engine.LabelManaged: "true", engine.LabelApp: x.app.Name, engine.LabelEnv: x.env, engine.LabelService: svc.Name,
		})
		if err != nil {
			return fmt.Errorf("service %q: secret %s: %w", svc.Name, sf.Name, err)
		}
		target := sf.Target
		if rel, ok := strings.CutPrefix(target, spec.SecretsDir+"/"); ok && !strings.Contains(rel, "/") {
			target = rel
		}
		mounts = slices.DeleteFunc(mounts, func(m engine.SecretMount) bool { return m.Target == target })
		mounts = append(mounts, engine.SecretMount{Secret: name, Target: target, UID: sf.UID, GID: sf.GID, Mode: sf.Mode})
	}
	ws.Secrets = mounts
	return nil
}
