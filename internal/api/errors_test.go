package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Every kind of error becomes its status, a JSON ErrorBody with the
// error's whole message, and one log record: ERROR for a server fault,
// INFO for a refusal.
func TestWriteError_MapsEachErrorToItsStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"an api.Error says its status", &Error{Status: http.StatusTeapot, Err: errors.New("short and stout")}, http.StatusTeapot},
		{"an api.Error wins over what it wraps", &Error{Status: http.StatusConflict, Err: store.ErrNotFound}, http.StatusConflict},
		{"a bad request", badRequest(errors.New("read deploy request: unexpected EOF")), http.StatusBadRequest},
		{"busy", fmt.Errorf("deploy shop/production: %w", deploy.ErrBusy), http.StatusConflict},
		{"a canary in the way", fmt.Errorf("%w: shop/production runs a canary: promote or roll it back", deploy.ErrCanary), http.StatusConflict},
		{"not found", fmt.Errorf("app %q: %w", "shop", store.ErrNotFound), http.StatusNotFound},
		{"no such release", fmt.Errorf("release 9: %w", deploy.ErrNoRelease), http.StatusNotFound},
		{"an invalid definition", fmt.Errorf("load: %w", &spec.Error{Service: "web", Field: "x-berth.port", Msg: "give the container port"}), http.StatusBadRequest},
		{"a refused deploy", fmt.Errorf("%w: volume media is external and missing", deploy.ErrInvalid), http.StatusBadRequest},
		{"not a cluster", nodeError(fmt.Errorf("%w: one Docker host", deploy.ErrNotCluster)), http.StatusConflict},
		{"a drain that left tasks", nodeError(fmt.Errorf("node n1: %w", deploy.ErrStillRunning)), http.StatusConflict},
		{"anything else is the server's fault", errors.New("write /data/berth.db: no space left on device"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			rec := httptest.NewRecorder()
			writeError(rec, httptest.NewRequest(http.MethodPost, "/api/v1/apps/shop/envs/production/deploy", nil), log, tc.err)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body dto.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.err.Error() {
				t.Errorf("body %q (%v), want the error %q", rec.Body, err, tc.err)
			}
			records := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(records) != 1 {
				t.Fatalf("%d log records, want 1:\n%s", len(records), logs.String())
			}
			var r struct {
				Level, Error, Path string
				Status             int
			}
			_ = json.Unmarshal([]byte(records[0]), &r)
			level := "INFO"
			if tc.want >= 500 {
				level = "ERROR"
			}
			if r.Level != level || r.Status != tc.want || r.Error != tc.err.Error() || r.Path != "/api/v1/apps/shop/envs/production/deploy" {
				t.Errorf("logged %s, want level %s with status, error and path", records[0], level)
			}
		})
	}
}
