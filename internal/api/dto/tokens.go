package dto

import "time"

// Token is an API token as listed: its name, role, scope and use, never
// the token.
type Token struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Apps and Envs scope the token (empty: every app, every env).
	Apps      []string  `json:"apps,omitempty"`
	Envs      []string  `json:"envs,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	LastUsedAt   time.Time `json:"last_used_at,omitzero"`
	LastUsedFrom string    `json:"last_used_from,omitempty"`
}

// TokenRequest creates a token (POST /api/v1/tokens).
type TokenRequest struct {
	Name string   `json:"name"`
	Role string   `json:"role"`
	Apps []string `json:"apps,omitempty"`
	Envs []string `json:"envs,omitempty"`
	// ExpiresIn is how long the token is valid from its creation on the
	// server's clock, as a Go duration ("2160h"); empty: no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// NewToken is the answer to a TokenRequest: the token, shown this once
// (the server keeps only its hash), and its record.
type NewToken struct {
	Token string `json:"token"`
	Info  Token  `json:"info"`
}
