package dto

import "time"

// User is a console user as listed: name, role, scope and sign-ins,
// never the password or its hash.
type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Apps and Envs scope the user as they scope a token.
	Apps           []string  `json:"apps,omitempty"`
	Envs           []string  `json:"envs,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	LastSignInAt   time.Time `json:"last_sign_in_at,omitzero"`
	LastSignInFrom string    `json:"last_sign_in_from,omitempty"`
}

// UserRequest adds a user (POST /api/v1/users).
type UserRequest struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Apps     []string `json:"apps,omitempty"`
	Envs     []string `json:"envs,omitempty"`
	Password string   `json:"password"`
}

// PasswordRequest sets a user's password (PUT /api/v1/users/{name}/password).
type PasswordRequest struct {
	Password string `json:"password"`
}

// UserChange is the answer to removing a user or setting its password:
// the user and how many of its sessions ended.
type UserChange struct {
	User          User `json:"user"`
	SessionsEnded int  `json:"sessions_ended"`
}

// SignInRequest signs in (POST /api/v1/session).
type SignInRequest struct {
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
	// Token, instead of a name and password, signs in as a token (the
	// admin token, or one of berth tokens create): the session acts as
	// it while it works.
	Token string `json:"token,omitempty"`
}

// WhoAmI is who a credential is (GET /api/v1/session): a token's or a
// user's name, the role and scope, and for a console session its id and
// the CSRF value its changes carry.
type WhoAmI struct {
	Name    string   `json:"name"`
	User    string   `json:"user,omitempty"`
	Role    string   `json:"role"`
	Apps    []string `json:"apps,omitempty"`
	Envs    []string `json:"envs,omitempty"`
	Session string   `json:"session,omitempty"`
	CSRF    string   `json:"csrf,omitempty"`
}

// Session is a signed-in user's session as listed; its secret (the
// cookie) is never shown.
type Session struct {
	ID   string `json:"id"`
	User string `json:"user"`
	// Token names the token a token sign-in used (User is then empty).
	Token      string    `json:"token,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	From       string    `json:"from,omitempty"`
}

// SignedIn answers a sign-in: the session (its secret is in the
// Set-Cookie header only) and the CSRF value that every change sent
// with the cookie must carry in the X-Berth-CSRF header.
type SignedIn struct {
	Session Session `json:"session"`
	Role    string  `json:"role"`
	CSRF    string  `json:"csrf"`
}

// ServerInfo is the running server process: its build, its process id
// and when it started (a hand-off changes the last two, an upgrade the
// first too).
type ServerInfo struct {
	Version   string    `json:"version"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	// LastHandoffError says why this process's last hand-off did not
	// happen (it serves on); empty when none failed.
	LastHandoffError string `json:"last_handoff_error,omitempty"`
}
