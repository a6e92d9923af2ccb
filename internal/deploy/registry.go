package deploy

import "github.com/berth-dev/berth/internal/engine"

// registryAuth returns the stored credentials for the registry ref lives
// in, or nil when none are stored.
func (d *Deployer) registryAuth(ref string) *engine.RegistryAuth {
	return engine.AuthFor(ref, d.store.RegistryAuth)
}
