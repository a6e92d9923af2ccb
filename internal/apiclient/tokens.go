package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/api/dto"
)

// CreateToken makes an API token; the answer holds the token, which the
// server does not keep and never shows again.
func (c *Client) CreateToken(ctx context.Context, req dto.TokenRequest) (dto.NewToken, error) {
	var out dto.NewToken
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/tokens", req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Tokens lists the API tokens (revoked ones too), by name.
func (c *Client) Tokens(ctx context.Context) ([]dto.Token, error) {
	var out []dto.Token
	return out, c.getJSON(ctx, "/api/v1/tokens", &out)
}

// RevokeToken revokes a token: the server refuses its next request.
func (c *Client) RevokeToken(ctx context.Context, name string) (dto.Token, error) {
	var out dto.Token
	resp, err := c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(name), nil)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
