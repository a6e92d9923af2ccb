package apiclient

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	App   string
	Actor string
	Since time.Time
	Limit int
}

// Audit lists the audit log, newest first (admin only).
func (c *Client) Audit(ctx context.Context, f AuditFilter) ([]dto.AuditEntry, error) {
	q := url.Values{}
	if f.App != "" {
		q.Set("app", f.App)
	}
	if f.Actor != "" {
		q.Set("actor", f.Actor)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/api/v1/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []dto.AuditEntry
	return out, c.getJSON(ctx, path, &out)
}
