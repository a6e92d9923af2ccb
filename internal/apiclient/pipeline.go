package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/api/dto"
)

// Addr is the server address the client talks to.
func (c *Client) Addr() string { return c.addr }

// Connect links app to a git repository; the response holds the webhook
// path and secret.
func (c *Client) Connect(ctx context.Context, app string, req dto.ConnectRequest) (dto.ConnectResponse, error) {
	var out dto.ConnectResponse
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(app)+"/connect", req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Builds lists app's pipeline builds, newest first.
func (c *Client) Builds(ctx context.Context, app string, limit int) ([]dto.Build, error) {
	var out []dto.Build
	return out, c.getJSON(ctx, fmt.Sprintf("/api/v1/apps/%s/builds?limit=%d", url.PathEscape(app), limit), &out)
}

// Build returns one build.
func (c *Client) GetBuild(ctx context.Context, id int64) (dto.Build, error) {
	var out dto.Build
	return out, c.getJSON(ctx, fmt.Sprintf("/api/v1/builds/%d", id), &out)
}

// BuildLogs copies a build's log to w; with follow until it ends.
func (c *Client) BuildLogs(ctx context.Context, id int64, follow bool, w io.Writer) error {
	path := fmt.Sprintf("/api/v1/builds/%d/logs", id)
	if follow {
		path += "?follow=1"
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// CancelBuild cancels a queued or running build.
func (c *Client) CancelBuild(ctx context.Context, id int64) error {
	resp, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/builds/%d/cancel", id), struct{}{})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Notifications returns app's notification targets.
func (c *Client) Notifications(ctx context.Context, app string) ([]dto.NotifyTarget, error) {
	var out []dto.NotifyTarget
	return out, c.getJSON(ctx, "/api/v1/apps/"+url.PathEscape(app)+"/notifications", &out)
}

// SetNotifications replaces app's notification targets.
func (c *Client) SetNotifications(ctx context.Context, app string, ts []dto.NotifyTarget) error {
	resp, err := c.do(ctx, http.MethodPut, "/api/v1/apps/"+url.PathEscape(app)+"/notifications", ts)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
