package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/berth-dev/berth/internal/api/dto"
)

// Config returns app/env's configuration and secret names.
func (c *Client) Config(ctx context.Context, app, env string) (dto.ConfigView, error) {
	var out dto.ConfigView
	return out, c.getJSON(ctx, envPath(app, env)+"/config", &out)
}

// ChangeConfig sets and unsets variables and rolls out a release with
// them (none when nothing is live yet: the deployment is then nil).
func (c *Client) ChangeConfig(ctx context.Context, app, env string, ch dto.ConfigChange, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.do(ctx, http.MethodPost, envPath(app, env)+"/config", ch)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}

// SetSecret stores a secret of an existing app and rolls out a release
// with it; for an app that does not exist it fails with a 404.
func (c *Client) SetSecret(ctx context.Context, app, env, name, value string, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	return c.setSecret(ctx, app, env, envPath(app, env)+"/secrets/"+url.PathEscape(name), value, onProgress)
}

// SetSecretOfNewApp is SetSecret that creates the app when it does not
// exist yet: for a secret its first deploy needs.
func (c *Client) SetSecretOfNewApp(ctx context.Context, app, env, name, value string, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	return c.setSecret(ctx, app, env, envPath(app, env)+"/secrets/"+url.PathEscape(name)+"?new_app=true", value, onProgress)
}

func (c *Client) setSecret(ctx context.Context, app, env, path, value string, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.doRaw(ctx, http.MethodPut, path, strings.NewReader(value))
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}

// UnsetSecret removes a secret and rolls out a release without it.
func (c *Client) UnsetSecret(ctx context.Context, app, env, name string, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.doRaw(ctx, http.MethodDelete, envPath(app, env)+"/secrets/"+url.PathEscape(name), nil)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}

// Run runs a one-off command in app/env's service, copying its output to
// w, and returns its exit code.
func (c *Client) Run(ctx context.Context, app, env, service string, cmd []string, w io.Writer) (int, error) {
	resp, err := c.do(ctx, http.MethodPost, envPath(app, env)+"/run", dto.RunRequest{Service: service, Command: cmd})
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	code := -1
	var failed error
	err = eachEvent(resp.Body, func(ev dto.StreamEvent) bool {
		if ev.Output != "" {
			fmt.Fprintln(w, ev.Output)
		}
		if ev.Result == nil {
			return false
		}
		if ev.Result.ExitCode != nil {
			code = *ev.Result.ExitCode
		}
		if !ev.Result.OK {
			failed = errors.New(ev.Result.Error)
		}
		return true
	})
	if errors.Is(err, errNoResult) {
		return -1, errors.New("the server closed the connection before the command finished")
	}
	if err != nil {
		return -1, err
	}
	return code, failed
}

// Volumes lists app/env's named volumes with their sizes.
func (c *Client) Volumes(ctx context.Context, app, env string) ([]dto.Volume, error) {
	var out []dto.Volume
	return out, c.getJSON(ctx, envPath(app, env)+"/volumes", &out)
}

// CloneEnv copies app's from environment into to and deploys it.
func (c *Client) CloneEnv(ctx context.Context, app, from string, req dto.CloneRequest, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, req.To)
	resp, err := c.do(ctx, http.MethodPost, envPath(app, from)+"/clone", req)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, req.To, since, resp, onProgress)
}

// Events lists app/env's recorded container events, newest first.
func (c *Client) Events(ctx context.Context, app, env string, limit int) ([]dto.Event, error) {
	var out []dto.Event
	return out, c.getJSON(ctx, fmt.Sprintf("%s/events?limit=%d", envPath(app, env), limit), &out)
}

// Prune removes images no rollback can target and stopped one-off
// containers, of berth's apps only.
func (c *Client) Prune(ctx context.Context) (dto.PruneReport, error) {
	return c.prune(ctx, "/api/v1/prune")
}

// PruneWithBuildCache is Prune, and also removes the caches builds keep
// for their RUN --mount=type=cache mounts.
func (c *Client) PruneWithBuildCache(ctx context.Context) (dto.PruneReport, error) {
	return c.prune(ctx, "/api/v1/prune?build_cache=true")
}

func (c *Client) prune(ctx context.Context, path string) (dto.PruneReport, error) {
	var out dto.PruneReport
	resp, err := c.do(ctx, http.MethodPost, path, struct{}{})
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// AddRegistry stores credentials for a registry.
func (c *Client) AddRegistry(ctx context.Context, server, username, password string) ([]dto.Registry, error) {
	var out []dto.Registry
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/registries", dto.RegistryRequest{Server: server, Username: username, Password: password})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Registries lists the registries berth has credentials for.
func (c *Client) Registries(ctx context.Context) ([]dto.Registry, error) {
	var out []dto.Registry
	return out, c.getJSON(ctx, "/api/v1/registries", &out)
}

// SetMaintenance turns app/env's maintenance mode on (with page, HTML; ""
// for berth's page) or off.
func (c *Client) SetMaintenance(ctx context.Context, app, env string, on bool, page string) error {
	resp, err := c.do(ctx, http.MethodPut, envPath(app, env)+"/maintenance", dto.MaintenanceRequest{On: on, Page: page})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
