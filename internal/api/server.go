package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/build"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Options configures the API server.
type Options struct {
	Deployer *deploy.Deployer
	// Jobs runs the scheduled jobs (nil on a cluster, which refuses them).
	Jobs *deploy.Scheduler
	// Backups makes and restores backups of volumes (nil: none).
	Backups  *deploy.Backups
	Builder  *build.Builder
	Pipeline *build.Pipeline
	Notifier *notify.Notifier
	// Metrics serves /metrics (Prometheus), outside /api/v1/.
	Metrics http.Handler
	Store   *store.Store
	// Token is the admin bearer token; tokens made with berth tokens
	// create are in the store.
	Token string
	// MetricsAllow are the networks whose clients read /metrics without
	// a token (berth server --metrics-allow).
	MetricsAllow []netip.Prefix
	// AuditLog, when set, gets each audit entry as a line of JSON too
	// (berth server --audit-log), for shipping to a log system.
	AuditLog io.Writer
	// Argon2 are the costs of new password hashes (default
	// DefaultArgon2; tests use cheap ones).
	Argon2 *Argon2Params
	// SessionIdle and SessionMax are how long a console session lasts
	// without a request and at most (defaults DefaultSessionIdle,
	// DefaultSessionMax).
	SessionIdle, SessionMax time.Duration
	// Now is the clock of token expiry and last use, of sessions and
	// sign-in limits, and of the audit log (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Context outlives requests: deployments run on it.
	Context context.Context
	// Version is the server's build (GET /api/v1/server).
	Version string
	// Restart, when set, starts a hand-off to a new server process
	// (POST /api/v1/server/restart): it returns at once, nil when the
	// hand-off started, or why it cannot.
	Restart func() error
	// HandoffError says why the last hand-off failed ("" when none did).
	HandoffError func() string
}

// Server serves the API.
type Server struct {
	dep      *deploy.Deployer
	jobs     *deploy.Scheduler
	backups  *deploy.Backups
	bld      *build.Builder
	pipe     *build.Pipeline
	notifier *notify.Notifier
	metrics  http.Handler
	store    *store.Store
	token    bearer
	// metricsAllow: Options.MetricsAllow.
	metricsAllow []netip.Prefix
	now          func() time.Time
	used         *lastUse
	audit        *auditor
	sess         *sessionConf
	hub          *statusHub // the status streams' looks (statushub.go)
	log          *slog.Logger
	ctx          context.Context
	version      string
	restart      func() error
	handoffErr   func() string
}

// New returns the API server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sess := &sessionConf{idle: o.SessionIdle, max: o.SessionMax, argon: DefaultArgon2, limits: newSignInLimits(o.Now)}
	if o.Argon2 != nil {
		sess.argon = *o.Argon2
	}
	if sess.idle <= 0 {
		sess.idle = DefaultSessionIdle
	}
	if sess.max <= 0 {
		sess.max = DefaultSessionMax
	}
	s := &Server{dep: o.Deployer, jobs: o.Jobs, backups: o.Backups, sess: sess, bld: o.Builder, pipe: o.Pipeline, notifier: o.Notifier, metrics: o.Metrics, store: o.Store,
		token: newBearer(o.Token), metricsAllow: o.MetricsAllow, now: o.Now, used: &lastUse{},
		log: o.Logger.With("component", "api"), ctx: o.Context, version: o.Version, restart: o.Restart, handoffErr: o.HandoffError,
		audit: &auditor{store: o.Store, file: o.AuditLog, log: o.Logger.With("component", "audit")}}
	s.hub = &statusHub{s: s}
	return s
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	apps, err := s.store.ListApps()
	if err != nil {
		return err
	}
	out := make([]dto.AppSummary, 0, len(apps))
	for _, a := range apps {
		if !visible(r, a.Name, "") {
			continue
		}
		envs := slices.DeleteFunc(slices.Clone(a.Envs), func(e string) bool { return !visible(r, a.Name, e) })
		out = append(out, dto.AppSummary{Name: a.Name, Envs: envs})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) statusAll(w http.ResponseWriter, r *http.Request) error {
	all := r.URL.Query().Get("all") == "1" || r.URL.Query().Get("all") == "true"
	out, err := s.statusList(r, all) // live.go
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	st, err := s.dep.Status(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, envStatusDTO(st))
	return nil
}

func (s *Server) releases(w http.ResponseWriter, r *http.Request) error {
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	rels, err := s.store.ListReleases(app, env)
	if err != nil {
		return err
	}
	if rels == nil {
		rels = []store.Release{}
	}
	writeJSON(w, http.StatusOK, each(rels, releaseDTO))
	return nil
}

func (s *Server) deployments(w http.ResponseWriter, r *http.Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 20
	}
	deps, err := s.store.ListDeployments(r.PathValue("app"), r.PathValue("env"), limit)
	if err != nil {
		return err
	}
	if deps == nil {
		deps = []store.Deployment{}
	}
	writeJSON(w, http.StatusOK, each(deps, deploymentDTO))
	return nil
}

func (s *Server) deployment(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return badRequest(fmt.Errorf("deployment id %q is not a number", r.PathValue("id")))
	}
	d, err := s.store.GetDeployment(id)
	if err != nil {
		return fmt.Errorf("deployment %d: %w", id, err)
	}
	writeJSON(w, http.StatusOK, deploymentDTO(d))
	return nil
}

// MaxAppDefinitionBytes is the largest app definition (the JSON of a
// loaded Compose file) a deploy request may carry; a larger one is
// answered 413 with the limit.
const MaxAppDefinitionBytes = 8 << 20

// readApp reads the app definition a request's body holds (at most
// MaxAppDefinitionBytes), for the app its URL names, and validates it.
func readApp(w http.ResponseWriter, r *http.Request) (*spec.App, error) {
	var app spec.App
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxAppDefinitionBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&app); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf(
				"read app definition: it is larger than the API's limit of %d MiB; make the Compose file smaller (keep large files in images or volumes, not in configs or error pages)",
				MaxAppDefinitionBytes>>20)}
		}
		return nil, badRequest(fmt.Errorf("read app definition: %w", err))
	}
	if app.Name != r.PathValue("app") {
		return nil, badRequest(fmt.Errorf("the app definition names %q but the URL names %q", app.Name, r.PathValue("app")))
	}
	if err := app.Validate(); err != nil {
		return nil, badRequest(err)
	}
	return &app, nil
}

func (s *Server) deploy(w http.ResponseWriter, r *http.Request) error {
	app, err := readApp(w, r)
	if err != nil {
		return err
	}
	env := r.PathValue("env")
	opts, err := deployQuery(r)
	if err != nil {
		return err
	}
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		return s.dep.Deploy(ctx, app, env, deployOptions(opts), p)
	})
}

// promote makes the app environment's canary its live release.
func (s *Server) promote(w http.ResponseWriter, r *http.Request) error {
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		return s.dep.Promote(ctx, app, env, p)
	})
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	var req dto.RollbackRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			return badRequest(fmt.Errorf("read rollback request: %w", err))
		}
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		return s.dep.Rollback(ctx, app, env, req.To, deployOptions(dto.DeployOptions{ReplaceStateful: req.ReplaceStateful}), p)
	})
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request) error {
	var req dto.ScaleRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read scale request: %w", err))
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	targets := make([]deploy.ScaleTarget, len(req.Services))
	seen := map[string]bool{}
	for i, t := range req.Services {
		switch {
		case t.Service == "":
			return badRequest(fmt.Errorf("scale request: name each service by name (\"service\": \"web\")"))
		case seen[t.Service]:
			return badRequest(fmt.Errorf("scale request: service %q is named twice: give it one count", t.Service))
		}
		seen[t.Service] = true
		targets[i] = deploy.ScaleTarget{Service: t.Service, Replicas: t.Replicas}
	}
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		return s.dep.Scale(ctx, app, env, targets, p)
	})
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opts := engine.LogOptions{Follow: q.Get("follow") == "1" || q.Get("follow") == "true", Timestamps: q.Get("timestamps") == "1"}
	if t := q.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return badRequest(fmt.Errorf("tail must be a number of lines, got %q", t))
		}
		opts.Tail = n
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	return s.dep.LogsNamed(r.Context(), app, env, q.Get("service"), opts, q.Get("names") == "1", fw)
}

// flushWriter flushes after each write so followed logs arrive at once.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }
func (f *flushWriter) Flush()                      { _ = f.rc.Flush() }

func (s *Server) volumes(w http.ResponseWriter, r *http.Request) error {
	vols, err := s.dep.Volumes(r.Context(), r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(vols, volumeDTO))
	return nil
}

func (s *Server) clone(w http.ResponseWriter, r *http.Request) error {
	var req dto.CloneRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read clone request: %w", err))
	}
	if req.To == "" {
		return badRequest(errors.New("name the environment to clone into"))
	}
	app, from := r.PathValue("app"), r.PathValue("env")
	if p, ok := principalOf(r); ok && !p.allowsEnv(req.To) {
		// The route's permission covers the source; the target is in
		// the body.
		return forbidden("%s may not clone into environment %s: that needs a token whose scope includes it", p.describe(), req.To)
	}
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		return s.dep.Clone(ctx, app, from, req.To, cloneOptions(req), p)
	})
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	evs, err := s.dep.Events(r.PathValue("app"), r.PathValue("env"), limit)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []store.Event{}
	}
	writeJSON(w, http.StatusOK, each(evs, eventDTO))
	return nil
}

func (s *Server) prune(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.dep.Prune(r.Context())
	if err != nil && len(rep.Images)+len(rep.Containers) == 0 {
		return err
	}
	if s.backups != nil {
		removed, berr := s.backups.Prune()
		rep.Backups = removed
		if berr != nil && err == nil {
			err = berr
		}
	}
	if r.URL.Query().Get("build_cache") == "true" {
		if rep.BuildCacheBytes, err = s.dep.PruneBuildCache(r.Context()); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, pruneReportDTO(rep))
	return nil
}

func (s *Server) addRegistry(w http.ResponseWriter, r *http.Request) error {
	var req dto.RegistryRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read registry: %w", err))
	}
	req.Server = strings.TrimPrefix(strings.TrimPrefix(req.Server, "https://"), "http://")
	req.Server = strings.TrimSuffix(req.Server, "/")
	if err := s.store.SetRegistry(req.Server, req.Username, req.Password); err != nil {
		return badRequest(err)
	}
	regs, err := s.store.ListRegistries()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(regs, registryDTO))
	return nil
}

func (s *Server) listRegistries(w http.ResponseWriter, r *http.Request) error {
	regs, err := s.store.ListRegistries()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(regs, registryDTO))
	return nil
}

func (s *Server) maintenance(w http.ResponseWriter, r *http.Request) error {
	var req dto.MaintenanceRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read maintenance request: %w", err))
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	if err := s.dep.SetMaintenance(app, env, req.On, []byte(req.Page)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}
