package deploy

import (
	"fmt"

	"github.com/berth-dev/berth/internal/store"
)

// SetMaintenance puts app/env in or out of maintenance mode: its routes
// answer 503 with Retry-After and page while containers and deploys go on
// behind it. The mode is kept in the store and survives restarts.
func (d *Deployer) SetMaintenance(app, env string, on bool, page []byte) error {
	if err := d.store.SetMaintenance(app, env, store.Maintenance{On: on, Page: page}); err != nil {
		return fmt.Errorf("maintenance of %s/%s: %w", app, env, err)
	}
	d.proxy.SetMaintenance(app, env, on, page)
	return nil
}

// restoreMaintenance applies the stored mode to the proxy.
func (d *Deployer) restoreMaintenance(app, env string) {
	if m, err := d.store.GetMaintenance(app, env); err == nil {
		d.proxy.SetMaintenance(app, env, m.On, m.Page)
	}
}
