package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/store"
)

// DefaultAuditRetention is how long audit entries are kept unless
// --audit-retention says otherwise: a year.
const DefaultAuditRetention = 365 * 24 * time.Hour

// The default console session lifetimes (--session-idle, --session-max).
const (
	DefaultSessionIdle = api.DefaultSessionIdle
	DefaultSessionMax  = api.DefaultSessionMax
)

// openAuditLog opens --audit-log for appending (mode 0600: entries name
// tokens and sources); "" is no file (nil).
func openAuditLog(path string) (io.WriteCloser, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--audit-log %s: %w", path, err)
	}
	return f, nil
}

// pruneAudit drops the audit entries older than retention (0: the
// default) at now: at start and with the daily prune.
func pruneAudit(st *store.Store, retention time.Duration, now time.Time, log *slog.Logger) {
	if retention <= 0 {
		retention = DefaultAuditRetention
	}
	n, err := st.PruneAudit(now.Add(-retention))
	if err != nil {
		log.Warn("prune the audit log", "error", err)
		return
	}
	if n > 0 {
		log.Info("pruned the audit log", "entries", n, "retention", retention.String())
	}
}
