package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
)

// traffic answers an app environment's traffic over the last range
// (?range=DURATION: within an hour in 10 s steps, up to a day in 5 min
// steps; default the last hour), of every release or of ?release=N:
// requests/s, the 5xx share and latency quantiles per step, with its
// deployments (scaling included) and canary moves marked.
func (s *Server) traffic(w http.ResponseWriter, r *http.Request) error {
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	span := deploy.TrafficSpan
	if v := r.URL.Query().Get("range"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return badRequest(fmt.Errorf("range=%q: give a duration such as 15m, 1h or 24h", v))
		}
		if d > deploy.TrafficDaySpan {
			return badRequest(fmt.Errorf("range=%s: berth keeps %s of traffic; ask for 24h or less", v, deploy.TrafficDaySpan))
		}
		span = d
	}
	now := time.Now()
	from := now.Add(-span)
	release := r.URL.Query().Get("release")
	if release != "" {
		if _, err := strconv.ParseInt(release, 10, 64); err != nil {
			return badRequest(fmt.Errorf("release=%q: give a release number (berth releases %s)", release, app))
		}
	}
	ps, step := s.dep.Traffic(app, env, release, from)
	out := dto.Traffic{App: app, Env: env, Release: release, Step: int(step / time.Second), From: from, To: now,
		Points: make([]dto.TrafficPoint, 0, len(ps)), Marks: []dto.TrafficMark{}}
	for _, p := range ps {
		tp := dto.TrafficPoint{At: p.At, Requests: p.Requests, RPS: float64(p.Requests) / step.Seconds()}
		if p.Requests > 0 {
			tp.ErrorRate = float64(p.Errors) / float64(p.Requests)
			tp.P50, tp.P95, tp.P99 = seconds(p.P50), seconds(p.P95), seconds(p.P99)
		}
		out.Points = append(out.Points, tp)
	}
	deps, err := s.store.ListDeployments(app, env, 200)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if d.StartedAt.Before(from) {
			continue
		}
		text := fmt.Sprintf("%s %d: release %d, %s", d.Kind, d.ID, d.ReleaseID, d.Status)
		if d.CreatedBy != "" {
			text += ", by " + d.CreatedBy
		}
		out.Marks = append(out.Marks, dto.TrafficMark{At: d.StartedAt, Kind: string(d.Kind), Text: text, Deployment: d.ID})
	}
	evs, err := s.dep.Events(app, env, 200)
	if err != nil {
		return err
	}
	for _, e := range evs {
		// A scale (berth scale or the autoscaler) is a deployment, marked
		// above; a canary's move is not.
		if e.Kind == "canary_weight" && !e.Time.Before(from) {
			out.Marks = append(out.Marks, dto.TrafficMark{At: e.Time, Kind: e.Kind, Text: e.Message})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// seconds is a quantile for the wire: absent when there is none.
func seconds(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
