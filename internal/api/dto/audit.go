package dto

import "time"

// AuditEntry is one record of the audit log (GET /api/v1/audit): who
// asked for a change, from where, what it was and how it ended. Params
// never hold a secret value.
type AuditEntry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Actor is a token's name, "admin-token" or "webhook:PROVIDER"; ""
	// when the request named no known token.
	Actor  string `json:"actor"`
	Source string `json:"source,omitempty"`
	// Action is a stable snake_case name: "deploy", "secret_set",
	// "token_create"; "read" for a refused read.
	Action string            `json:"action"`
	App    string            `json:"app,omitempty"`
	Env    string            `json:"env,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	// Outcome is "ok", "refused" (401, 403) or "failed" (see Error and
	// Status).
	Outcome string `json:"outcome"`
	Status  int    `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
	// Deployment and Build are what the request started, when it did.
	Deployment int64 `json:"deployment,omitempty"`
	Build      int64 `json:"build,omitempty"`
}
