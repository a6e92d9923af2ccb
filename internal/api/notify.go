package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/store"
)

// NotifyTargets adapts the store for notify.Options.Targets.
func NotifyTargets(st *store.Store) func(app string) []notify.Target {
	return func(app string) []notify.Target {
		ts, _ := st.NotifyTargets(app)
		out := make([]notify.Target, 0, len(ts))
		for _, t := range ts {
			out = append(out, notify.Target{Kind: t.Kind, URL: t.URL})
		}
		return out
	}
}

func (s *Server) setNotifications(w http.ResponseWriter, r *http.Request) error {
	var ts []dto.NotifyTarget
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ts); err != nil {
		return badRequest(fmt.Errorf("read notification targets: %w", err))
	}
	for _, t := range ts {
		if t.Kind != "slack" && t.Kind != "webhook" {
			return badRequest(fmt.Errorf("notification kind %q: use slack or webhook", t.Kind))
		}
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badRequest(fmt.Errorf("notification URL %q is not an http(s) URL", t.URL))
		}
	}
	ts = slices.CompactFunc(ts, func(a, b dto.NotifyTarget) bool { return a == b })
	if err := s.store.SetNotifyTargets(r.PathValue("app"), each(ts, notifyTarget)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ts)
	return nil
}

func (s *Server) getNotifications(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.store.NotifyTargets(r.PathValue("app"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(ts, notifyTargetDTO))
	return nil
}

// notifyDeployment tells the app's targets how a deploy or rollback
// ended; refusals before anything started (busy, invalid) are not told.
func (s *Server) notifyDeployment(dep store.Deployment, err error) {
	if s.notifier == nil || dep.ID == 0 || dep.Kind == store.KindScale {
		return // a scale is no release: berth events records it
	}
	if ev, ok := removalEvent(dep, err); ok { // remove.go
		s.notifier.Send(ev)
		return
	}
	ev := notify.Event{App: dep.App, Env: dep.Env, Duration: dep.EndedAt.Sub(dep.StartedAt), Time: time.Now()}
	switch {
	case err != nil:
		ev.Kind, ev.Message = notify.DeployFailed, fmt.Sprintf("release %d refused: %v", dep.ReleaseID, firstLine(err.Error()))
	case dep.Kind == store.KindRollback:
		ev.Kind, ev.Message = notify.Rollback, fmt.Sprintf("rolled back to release %d (from %d)", dep.ReleaseID, dep.FromReleaseID)
	case dep.Counted:
		ev.Kind, ev.Message = notify.DeploySucceeded, fmt.Sprintf("release %d is live; %d requests served during the deploy, %d failed", dep.ReleaseID, dep.Served, dep.Failed)
	default: // nothing was routed before: no traffic to tell of
		ev.Kind, ev.Message = notify.DeploySucceeded, fmt.Sprintf("release %d is live", dep.ReleaseID)
	}
	s.notifier.Send(ev)
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
