package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/berth-dev/berth/internal/api/dto"
)

// canaryWeight moves the app environment's running canary to another
// share of clients (PUT .../canary {"weight": N}): the same pools keep
// serving, nothing is deployed.
func (s *Server) canaryWeight(w http.ResponseWriter, r *http.Request) error {
	var req dto.CanaryWeightRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read canary request: %w; send {\"weight\": PERCENT} with a percentage from 1 to 99", err))
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	mv, err := s.dep.SetCanaryWeight(r.Context(), app, env, req.Weight)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dto.CanaryWeight{Release: mv.Release, Live: mv.Live, From: mv.From, Weight: mv.To})
	return nil
}
