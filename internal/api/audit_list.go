package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

// listAudit answers the audit log, newest first: ?app=, ?actor=,
// ?since= (RFC 3339), ?limit= select entries.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.AuditFilter{App: q.Get("app"), Actor: q.Get("actor")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return badRequest(fmt.Errorf("since=%q: give a time in RFC 3339 (2026-03-01T12:00:00Z)", v))
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest(fmt.Errorf("limit=%q: give a number of entries", v))
		}
		f.Limit = n
	}
	es, err := s.store.ListAudit(f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(es, auditDTO))
	return nil
}
