package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/api/dto"
)

// RemoveEnv removes app/env (its containers, routes, networks and the
// volumes req names), calling onProgress for each progress line, and
// returns the removal's record. Its history stays on the server.
func (c *Client) RemoveEnv(ctx context.Context, app, env string, req dto.RemoveRequest, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.do(ctx, http.MethodDelete, envPath(app, env), req)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}

// RemoveApp removes every environment of app, as RemoveEnv does; the
// record returned is the last environment's removal.
func (c *Client) RemoveApp(ctx context.Context, app string, req dto.RemoveRequest, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := int64(0)
	resp, err := c.do(ctx, http.MethodDelete, "/api/v1/apps/"+url.PathEscape(app), req)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, "", "", since, resp, onProgress)
}

// StatusAllWithRemoved reports every app environment, removed ones too
// (their RemovedAt set).
func (c *Client) StatusAllWithRemoved(ctx context.Context) ([]dto.EnvStatus, error) {
	var out []dto.EnvStatus
	return out, c.getJSON(ctx, "/api/v1/status?all=1", &out)
}
