package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

// maxContext bounds an uploaded build context.
const maxContext = 4 << 30

// build builds an image from the uploaded context, streaming the build
// output as StreamEvent lines and ending with the image ID.
func (s *Server) build(w http.ResponseWriter, r *http.Request) error {
	if s.bld == nil {
		return errors.New("this server does not build images")
	}
	var req dto.BuildRequest
	if err := json.Unmarshal([]byte(r.URL.Query().Get("request")), &req); err != nil {
		return badRequest(fmt.Errorf("read build request: %w", err))
	}
	req.App = r.PathValue("app")
	secrets, err := dto.DecodeBuildSecrets(r.Header)
	if err != nil {
		return badRequest(err)
	}
	req.Secrets = secrets
	if req.Service == "" || req.Tag == "" {
		return badRequest(errors.New("a build names its service and tag"))
	}
	rec, err := s.store.CreateBuild(store.Build{App: req.App, Commit: req.Revision, Message: "berth deploy: service " + req.Service})
	if err != nil {
		return err
	}
	noteOf(r).build(rec.ID)
	rec.Status, rec.StartedAt = store.BuildRunning, time.Now()
	_ = s.store.UpdateBuild(rec)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	log := func(line string) {
		rec.Log = append(rec.Log, line)
		_ = enc.Encode(dto.StreamEvent{Output: line})
		_ = rc.Flush()
	}
	// The body is read while the response streams.
	_ = rc.EnableFullDuplex()
	id, err := s.bld.Build(r.Context(), buildRequest(req), io.LimitReader(r.Body, maxContext), log)
	res := &dto.Result{OK: err == nil, ImageID: id}
	rec.Status, rec.EndedAt = store.BuildSucceeded, time.Now()
	if err != nil {
		res.Error = err.Error()
		rec.Status, rec.Error = store.BuildFailed, err.Error()
		s.log.Info("build failed", "app", req.App, "service", req.Service, "error", err)
	}
	_ = s.store.UpdateBuild(rec) // the log is kept: berth builds logs ID
	_ = enc.Encode(dto.StreamEvent{Result: res})
	return nil
}
