package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

// The live streams (server-sent events) of the console, and of any
// client that would rather be told than ask again.
const (
	// statusRefresh is how often the status stream looks again without
	// a change in the store: the proxy's rates and health checks move
	// on their own, and a page shows them within a second.
	statusRefresh = time.Second
	// coalesceChanges is how long the status stream waits after a
	// change for the ones that come with it (a deployment writes
	// several records at once), so a burst costs one look.
	coalesceChanges = 100 * time.Millisecond
	// followRetry is how long a progress stream waits before it looks
	// again at a deployment that is recorded as running but that no
	// deployer here follows yet (the instant between its record and its
	// start).
	followRetry = 200 * time.Millisecond
	// abandonedAfter is how long that lasts at most: then the stream
	// says the deployment is not running here, and ends.
	abandonedAfter = 5 * time.Second
)

// sse writes server-sent events.
type sse struct {
	w  io.Writer
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

// send writes one event (id "" for none) whose data is v as JSON.
func (e *sse) send(event, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return e.sendRaw(event, id, b)
}

func (e *sse) sendRaw(event, id string, data []byte) error {
	var buf bytes.Buffer
	if id != "" {
		fmt.Fprintf(&buf, "id: %s\n", id)
	}
	fmt.Fprintf(&buf, "event: %s\ndata: %s\n\n", event, data)
	if _, err := e.w.Write(buf.Bytes()); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *sse) keepalive() error {
	if _, err := io.WriteString(e.w, ": keepalive\n\n"); err != nil {
		return err
	}
	return e.rc.Flush()
}

// readmit checks r's credential again for a stream that outlives the
// moment it was admitted: a session signed out or expired, a token
// revoked, a role or scope changed count from the next look on. It
// returns r with the principal as it is now, or false after telling the
// client why in an "ended" event (the console then asks to sign in).
func (s *Server) readmit(r *http.Request, ev *sse, pm perm) (*http.Request, bool) {
	if _, ok := principalOf(r); !ok {
		return r, true // a public stream (tests' stand-ins): nothing to check
	}
	r2, _, err := s.admit(r, pm)
	if err != nil {
		_ = ev.send("ended", "", dto.ErrorBody{Error: err.Error()})
		return r, false
	}
	return r2, true
}

// statusList is the status of every app environment r's principal may
// see (removed ones with all).
func (s *Server) statusList(r *http.Request, all bool) ([]dto.EnvStatus, error) {
	envs, err := s.lookStatus(r.Context(), func(app, env string, active bool) bool {
		return (all || active) && visible(r, app, env)
	})
	out := []dto.EnvStatus{}
	for _, e := range envs {
		out = append(out, e.st)
	}
	return out, err
}

// lookStatus reads the status of the app environments want picks
// (active: not removed), in the store's order.
func (s *Server) lookStatus(ctx context.Context, want func(app, env string, active bool) bool) ([]lookedEnv, error) {
	apps, err := s.store.ListApps()
	if err != nil {
		return nil, err
	}
	var out []lookedEnv
	for _, a := range apps {
		active := map[string]bool{}
		for _, e := range a.Active() {
			active[e] = true
		}
		for _, env := range a.Envs {
			if !want(a.Name, env, active[env]) {
				continue
			}
			st, err := s.dep.Status(ctx, a.Name, env)
			if err != nil {
				return nil, err
			}
			out = append(out, lookedEnv{st: envStatusDTO(st), active: active[env]})
		}
	}
	return out, nil
}

// statusEvents streams what GET /api/v1/status answers, as "status"
// events: the whole list when it connects, then again each time it
// changes. The looks are the hub's (statushub.go), one for all streams:
// when the store says a write committed (a deployment, a release, a
// container event, maintenance) and every statusRefresh for the proxy's
// rates and health. A stream sends only what differs, for its own
// principal's scope, from what it sent last. A failed look is a
// "problem" event with its message; the stream goes on. At each look
// the credential is checked again: once it no longer works the stream
// sends "ended" with why, and stops.
func (s *Server) statusEvents(w http.ResponseWriter, r *http.Request) error {
	all := r.URL.Query().Get("all") == "1" || r.URL.Query().Get("all") == "true"
	ev := startSSE(w)
	defer s.hub.subscribe()()
	keepalive := time.NewTicker(keepaliveEvery)
	defer keepalive.Stop()
	// last is the hash of what the stream sent last, not its bytes: a
	// hundred open pages of fifty apps would hold a hundred copies of
	// the list (100 KiB each) only to compare them.
	var last [sha256.Size]byte
	for {
		look, ready := s.hub.current()
		if look != nil {
			r, ok := s.readmit(r, ev, permReadList)
			if !ok {
				return nil
			}
			var err error
			if look.err != nil {
				msg := sha256.Sum256([]byte("problem\x00" + look.err.Error()))
				if msg != last {
					err = ev.send("problem", "", dto.ErrorBody{Error: "read status: " + look.err.Error()})
					last = msg
				}
			} else if b, jerr := json.Marshal(look.visibleTo(r, all)); jerr == nil {
				if sum := sha256.Sum256(b); sum != last {
					err = ev.sendRaw("status", "", b)
					last = sum
				}
			}
			if err != nil {
				return nil
			}
		}
		if !s.waitForLook(r, ev, ready, keepalive.C) {
			return nil
		}
	}
}

// waitForLook waits for the hub's next look, keeping the stream alive
// meanwhile. false: the client went away, or the server is stopping
// (a stream never holds up its shutdown).
func (s *Server) waitForLook(r *http.Request, ev *sse, ready <-chan struct{}, keepalive <-chan time.Time) bool {
	for {
		select {
		case <-r.Context().Done():
			return false
		case <-s.ctx.Done():
			return false
		case <-ready:
			return true
		case <-keepalive:
			if ev.keepalive() != nil {
				return false
			}
		}
	}
}

// deploymentProgress streams deployment {id}'s progress as "progress"
// events (dto.Progress, each with its line's index as the event id, so
// a reconnecting EventSource resumes after the last line it got), the
// same lines as the deploy's own answer, then one "result" event with
// the outcome, and ends. A deployment that ended streams its recorded
// timeline and outcome at once.
func (s *Server) deploymentProgress(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return badRequest(fmt.Errorf("deployment id %q is not a number", r.PathValue("id")))
	}
	if _, err := s.store.GetDeployment(id); err != nil {
		return fmt.Errorf("deployment %d: %w", id, err)
	}
	sent := 0
	if n, err := strconv.Atoi(r.Header.Get("Last-Event-ID")); err == nil && n >= 0 {
		sent = n + 1
	}
	ev := startSSE(w)
	keepalive := time.NewTicker(keepaliveEvery)
	defer keepalive.Stop()
	var unfollowed time.Time // since when it is recorded running, not followed
	for {
		if _, ok := s.readmit(r, ev, permReadDepl); !ok {
			return nil
		}
		lines, more, done, ok := s.dep.FollowDeployment(id, sent)
		if !ok {
			d, err := s.store.GetDeployment(id)
			if err != nil {
				_ = ev.send("problem", "", dto.ErrorBody{Error: fmt.Sprintf("deployment %d: %v", id, err)})
				return nil
			}
			for ; sent < len(d.Timeline); sent++ {
				st := d.Timeline[sent]
				p := dto.Progress{Time: st.At, Elapsed: time.Duration(st.Elapsed), Message: st.Message, Deployment: id}
				if ev.send("progress", strconv.Itoa(sent), p) != nil {
					return nil
				}
			}
			if d.Status != store.DeploymentRunning {
				res := dto.Result{OK: d.Status == store.DeploymentSucceeded, Error: d.Error, Deployment: ptr(&d, deploymentDTO)}
				_ = ev.send("result", "", res)
				return nil
			}
			if unfollowed.IsZero() {
				unfollowed = time.Now()
			} else if time.Since(unfollowed) > abandonedAfter {
				res := dto.Result{Error: fmt.Sprintf("deployment %d is recorded as running, but this server is not running it: see berth status %s --env %s", id, d.App, d.Env),
					Deployment: ptr(&d, deploymentDTO)}
				_ = ev.send("result", "", res)
				return nil
			}
			select { // recorded, not started yet: look again shortly
			case <-time.After(followRetry):
			case <-r.Context().Done():
				return nil
			case <-s.ctx.Done():
				return nil
			}
			continue
		}
		for _, p := range lines {
			if ev.send("progress", strconv.Itoa(sent), progressDTO(p)) != nil {
				return nil
			}
			sent++
		}
		select {
		case <-more:
		case <-done:
		case <-keepalive.C:
			if ev.keepalive() != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		case <-s.ctx.Done():
			return nil // the server is stopping: the client reconnects to its successor
		}
	}
}

// redeploy deploys the live release again, as a new release with its
// definition and images and the environment's current configuration,
// through the same zero-downtime path as a deploy (the console's
// redeploy button).
func (s *Server) redeploy(w http.ResponseWriter, r *http.Request) error {
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	if _, err := s.store.LiveRelease(app, env); errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusConflict, Err: fmt.Errorf("%s/%s has no live release to redeploy: deploy it first (berth deploy)", app, env)}
	}
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		return s.dep.Redeploy(ctx, app, env, p)
	})
}
