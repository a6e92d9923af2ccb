package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Error is an error with the HTTP status it maps to.
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func badRequest(err error) error { return &Error{Status: http.StatusBadRequest, Err: err} }

// statusOf maps an error to an HTTP status.
func statusOf(err error) int {
	var ae *Error
	var se *spec.Error
	switch {
	case errors.As(err, &ae):
		return ae.Status
	case errors.Is(err, deploy.ErrBusy), errors.Is(err, deploy.ErrCanary), errors.Is(err, deploy.ErrJobRunning):
		return http.StatusConflict
	case errors.Is(err, store.ErrNotFound), errors.Is(err, deploy.ErrNoRelease):
		return http.StatusNotFound
	case errors.As(err, &se), errors.Is(err, deploy.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError is the one place an error becomes a response; it logs it once.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := statusOf(err)
	if code >= 500 {
		log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	} else {
		log.Info("api request refused", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	}
	writeJSON(w, code, dto.ErrorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
