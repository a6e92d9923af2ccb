package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/store"
)

// readRemoveRequest reads the body of a removal (DELETE of an app or an
// app environment): the volumes to delete with it, as the user confirmed
// them; an empty body keeps every volume.
func readRemoveRequest(r *http.Request) (deploy.RemoveOptions, error) {
	var req dto.RemoveRequest
	if r.ContentLength == 0 {
		return removeOptions(req), nil
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return removeOptions(req), badRequest(fmt.Errorf("read removal request: %w", err))
	}
	return removeOptions(req), nil
}

// removeEnv removes an app environment: DELETE /api/v1/apps/{app}/envs/{env}.
func (s *Server) removeEnv(w http.ResponseWriter, r *http.Request) error {
	req, err := readRemoveRequest(r)
	if err != nil {
		return err
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		return s.dep.RemoveEnv(ctx, app, env, req, p)
	})
}

// removeApp removes every environment of an app: DELETE /api/v1/apps/{app}.
// The stream's result is the last environment's removal; each one is
// notified.
func (s *Server) removeApp(w http.ResponseWriter, r *http.Request) error {
	req, err := readRemoveRequest(r)
	if err != nil {
		return err
	}
	app := r.PathValue("app")
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		deps, err := s.dep.RemoveApp(ctx, app, req, p)
		if len(deps) == 0 {
			return store.Deployment{}, err
		}
		for _, d := range deps[:len(deps)-1] {
			var derr error
			if d.Error != "" {
				derr = errors.New(d.Error)
			}
			s.notifyDeployment(d, derr)
		}
		return deps[len(deps)-1], err
	})
}

// removalEvent is the notification of a removal's deployment record dep
// (false for other deployments): removed, or remove_failed with why.
func removalEvent(dep store.Deployment, err error) (notify.Event, bool) {
	if dep.Kind != store.KindRemove {
		return notify.Event{}, false
	}
	ev := notify.Event{App: dep.App, Env: dep.Env, Duration: dep.EndedAt.Sub(dep.StartedAt), Time: time.Now(),
		Kind: notify.Removed, Message: fmt.Sprintf("containers, routes and networks removed (deployment %d); its history is kept", dep.ID)}
	if err != nil {
		ev.Kind, ev.Message = notify.RemoveFailed, firstLine(err.Error())
	}
	return ev, true
}
