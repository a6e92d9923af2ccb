package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/api/dto"
)

// AddUser adds a console user with its password.
func (c *Client) AddUser(ctx context.Context, req dto.UserRequest) (dto.User, error) {
	var out dto.User
	return out, c.sendJSON(ctx, http.MethodPost, "/api/v1/users", req, &out)
}

// Users lists the console users, by name.
func (c *Client) Users(ctx context.Context) ([]dto.User, error) {
	var out []dto.User
	return out, c.getJSON(ctx, "/api/v1/users", &out)
}

// RemoveUser removes a user and ends its sessions.
func (c *Client) RemoveUser(ctx context.Context, name string) (dto.UserChange, error) {
	var out dto.UserChange
	return out, c.sendJSON(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(name), nil, &out)
}

// SetPassword sets a user's password and ends its sessions.
func (c *Client) SetPassword(ctx context.Context, name, password string) (dto.UserChange, error) {
	var out dto.UserChange
	return out, c.sendJSON(ctx, http.MethodPut, "/api/v1/users/"+url.PathEscape(name)+"/password", dto.PasswordRequest{Password: password}, &out)
}

// Sessions lists console sessions: every one for an admin token.
func (c *Client) Sessions(ctx context.Context) ([]dto.Session, error) {
	var out []dto.Session
	return out, c.getJSON(ctx, "/api/v1/sessions", &out)
}

// RevokeSession ends a session by its id.
func (c *Client) RevokeSession(ctx context.Context, id string) (dto.Session, error) {
	var out dto.Session
	return out, c.sendJSON(ctx, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(id), nil, &out)
}

// ServerInfo is the running server process.
func (c *Client) ServerInfo(ctx context.Context) (dto.ServerInfo, error) {
	var out dto.ServerInfo
	return out, c.getJSON(ctx, "/api/v1/server", &out)
}

// RestartServer starts a hand-off to a new server process; it answers
// the process that was running.
func (c *Client) RestartServer(ctx context.Context) (dto.ServerInfo, error) {
	var out dto.ServerInfo
	return out, c.sendJSON(ctx, http.MethodPost, "/api/v1/server/restart", nil, &out)
}

// sendJSON sends body (nil: none) and decodes the answer into out.
func (c *Client) sendJSON(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}
