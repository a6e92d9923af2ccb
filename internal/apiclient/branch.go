package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// Connection returns app's link to its repository (Connected false when
// there is none).
func (c *Client) Connection(ctx context.Context, app string) (dto.Connection, error) {
	var out dto.Connection
	return out, c.getJSON(ctx, "/api/v1/apps/"+url.PathEscape(app)+"/connection", &out)
}

// DeployBranch queues a pipeline build of the head of branch (empty: the
// one mapped to env) that deploys to app/env, and returns the build.
func (c *Client) DeployBranch(ctx context.Context, app, env, branch string) (dto.Build, error) {
	var out dto.Build
	resp, err := c.do(ctx, http.MethodPost, envPath(app, env)+"/deploy-branch", dto.BranchDeployRequest{Branch: branch})
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Traffic returns app/env's traffic over the last span (0: all berth
// keeps), with its deployments marked.
func (c *Client) Traffic(ctx context.Context, app, env string, span time.Duration) (dto.Traffic, error) {
	var out dto.Traffic
	path := envPath(app, env) + "/traffic"
	if span > 0 {
		path += "?range=" + url.QueryEscape(span.String())
	}
	return out, c.getJSON(ctx, path, &out)
}
