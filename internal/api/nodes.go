package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
)

func (s *Server) nodes(w http.ResponseWriter, r *http.Request) error {
	ns, err := s.dep.Nodes(r.Context())
	if err != nil {
		return nodeError(err)
	}
	writeJSON(w, http.StatusOK, each(ns, nodeDTO))
	return nil
}

func (s *Server) setNode(w http.ResponseWriter, r *http.Request) error {
	var req dto.NodeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read node request: %w", err))
	}
	wait := 2 * time.Minute
	if req.Wait != "" {
		d, err := time.ParseDuration(req.Wait)
		if err != nil || d <= 0 {
			return badRequest(fmt.Errorf("wait %q: give a duration such as 90s", req.Wait))
		}
		wait = d
	}
	ch, err := s.dep.SetNodeAvailability(r.Context(), r.PathValue("node"), req.Availability, wait)
	if err != nil {
		return nodeError(err)
	}
	writeJSON(w, http.StatusOK, nodeChangeDTO(ch))
	return nil
}

// nodeError makes "not a cluster" and a drain whose tasks did not all
// move 409s: the request is fine, the cluster's state is not what it
// needs.
func nodeError(err error) error {
	if errors.Is(err, deploy.ErrNotCluster) || errors.Is(err, deploy.ErrStillRunning) {
		return &Error{Status: http.StatusConflict, Err: err}
	}
	return err
}
