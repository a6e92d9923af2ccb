package deploy

import (
	"fmt"
	"strconv"

	"github.com/berth-dev/berth/internal/spec"

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

// applyErrorPages gives the proxy app/env's own error pages from its live
// definition (none restores berth's).
func (d *Deployer) applyErrorPages(app *spec.App, env string) {
	pages := make(map[int][]byte, len(app.ErrorPages))
	for status, html := range app.ErrorPages {
		if n, err := strconv.Atoi(status); err == nil {
			pages[n] = []byte(html)
		}
	}
	d.proxy.SetErrorPages(app.Name, env, pages)
}
