package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/build"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/webhook"
)

// NewPipeline returns the git-push pipeline wired to dep for deploys and
// to n for notifications; publicURL is the API's address for log links.
func NewPipeline(st *store.Store, b *build.Builder, dep *deploy.Deployer, n *notify.Notifier, workDir, publicURL string) *build.Pipeline {
	return &build.Pipeline{Store: st, Builder: b, WorkDir: workDir,
		Binds: func(ctx context.Context, app *spec.App, env string) error { return keepBinds(dep, app, env) },
		Deploy: func(ctx context.Context, app *spec.App, env, actor string, log func(string)) (int64, error) {
			d, err := dep.Deploy(deploy.WithActor(ctx, actor), app, env, deploy.DeployOptions{}, func(p deploy.Progress) { log(p.Message) })
			(&Server{notifier: n}).notifyDeployment(d, err)
			return d.ID, err
		},
		Notify: func(bd store.Build) {
			ev := notify.Event{App: bd.App, Env: bd.Env, Commit: bd.Commit, Author: bd.Author,
				LogsURL: fmt.Sprintf("%s/api/v1/builds/%d/logs", publicURL, bd.ID)}
			switch bd.Status {
			case store.BuildRunning:
				ev.Kind, ev.Message = notify.BuildStarted, fmt.Sprintf("build %d of %s started", bd.ID, bd.Branch)
			case store.BuildSucceeded:
				ev.Kind, ev.Message, ev.Duration = notify.BuildSucceeded, fmt.Sprintf("build %d of %s succeeded", bd.ID, bd.Branch), bd.EndedAt.Sub(bd.StartedAt)
			case store.BuildFailed:
				ev.Kind, ev.Message, ev.Duration = notify.BuildFailed, fmt.Sprintf("build %d of %s failed: %s", bd.ID, bd.Branch, firstLine(bd.Error)), bd.EndedAt.Sub(bd.StartedAt)
			default:
				return
			}
			n.Send(ev)
		}}
}

func (s *Server) connect(w http.ResponseWriter, r *http.Request) error {
	var req dto.ConnectRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read connect request: %w", err))
	}
	if req.Repo == "" {
		return badRequest(errors.New("name the repository: --repo URL (file://, https:// with a token, or ssh)"))
	}
	if req.File == "" {
		req.File = "compose.yaml"
	}
	// Without --branch, x-berth.environments in the repository's file
	// maps branches (main → production when it says nothing).
	var b [24]byte
	_, _ = rand.Read(b[:])
	secret := hex.EncodeToString(b[:])
	app := r.PathValue("app")
	if err := s.store.SetConnection(store.Connection{App: app, Repo: req.Repo, File: req.File, Branches: req.Branches}, secret, req.SSHKey, req.Token); err != nil {
		return err
	}
	for _, env := range req.Branches {
		if err := s.store.EnsureEnv(app, env); err != nil {
			return err
		}
	}
	if len(req.Branches) == 0 {
		if err := s.store.EnsureEnv(app, spec.DefaultEnv); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, dto.ConnectResponse{WebhookPath: "/hooks/" + app, Secret: secret})
	return nil
}

// handleHook receives a push webhook. The signature is the credential:
// no bearer token.
func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) error {
	if s.pipe == nil {
		return errors.New("this server runs no build pipeline")
	}
	app := r.PathValue("app")
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		return badRequest(err)
	}
	conn, secret, err := s.store.GetConnection(app)
	if err != nil {
		return err
	}
	provider, err := webhook.Verify(r.Header, body, secret)
	if err != nil {
		noteOf(r).hookRefused(string(provider)) // a failed authentication
		return &Error{Status: http.StatusUnauthorized, Err: err}
	}
	push, err := webhook.Parse(provider, r.Header, body)
	if errors.Is(err, webhook.ErrNotAPush) {
		status := "ignored"
		if r.Header.Get("X-GitHub-Event") == "ping" || r.Header.Get("X-Gitea-Event") == "ping" {
			status = "pong"
		}
		writeJSON(w, http.StatusAccepted, dto.HookResponse{Status: status, Reason: err.Error()})
		return nil
	}
	if err != nil {
		return badRequest(err)
	}
	if push.DeliveryID != "" {
		if seen, err := s.store.SeenDelivery(app, push.DeliveryID); err != nil {
			return err
		} else if seen {
			writeJSON(w, http.StatusOK, dto.HookResponse{Status: "duplicate", Reason: "delivery " + push.DeliveryID + " was received before; not built again"})
			return nil
		}
	}
	env, ok := s.branchEnvs(app, conn)[push.Branch]
	if !ok {
		writeJSON(w, http.StatusAccepted, dto.HookResponse{Status: "ignored", Reason: fmt.Sprintf("branch %s is mapped to no environment of %s", push.Branch, app)})
		return nil
	}
	b, err := s.pipe.Enqueue(build.Trigger{App: app, Env: env, Branch: push.Branch, Commit: push.Commit, Author: push.Author, Message: push.Message,
		Actor: "webhook:" + string(provider)})
	if err != nil {
		// The push was not queued: forget its delivery id so the
		// provider's retry is built instead of answered "duplicate".
		if push.DeliveryID != "" {
			if ferr := s.store.ForgetDelivery(app, push.DeliveryID); ferr != nil {
				return errors.Join(err, ferr)
			}
		}
		return err
	}
	noteOf(r).webhook(string(provider), env, b.ID, map[string]string{"branch": push.Branch, "commit": push.Commit})
	writeJSON(w, http.StatusAccepted, dto.HookResponse{Status: "queued", BuildID: b.ID})
	return nil
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	bs, err := s.store.ListBuilds(r.PathValue("app"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(bs, buildDTO))
	return nil
}

func buildID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, badRequest(fmt.Errorf("build id %q is not a number", r.PathValue("id")))
	}
	return id, nil
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request) error {
	id, err := buildID(r)
	if err != nil {
		return err
	}
	b, err := s.store.GetBuild(id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, buildDTO(b))
	return nil
}

// buildLogs streams a build's log; with follow=1 until the build ends.
func (s *Server) buildLogs(w http.ResponseWriter, r *http.Request) error {
	id, err := buildID(r)
	if err != nil {
		return err
	}
	b, err := s.store.GetBuild(id)
	if err != nil {
		return err
	}
	follow := r.URL.Query().Get("follow") == "1"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rc := http.NewResponseController(w)
	sent := 0
	for {
		for ; sent < len(b.Log); sent++ {
			fmt.Fprintln(w, b.Log[sent])
		}
		_ = rc.Flush()
		if !follow || b.Done() {
			if b.Done() && follow {
				fmt.Fprintf(w, "build %d %s\n", b.ID, b.Status)
			}
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
		if b, err = s.store.GetBuild(id); err != nil {
			return nil
		}
	}
}

func (s *Server) cancelBuild(w http.ResponseWriter, r *http.Request) error {
	if s.pipe == nil {
		return errors.New("this server runs no build pipeline")
	}
	id, err := buildID(r)
	if err != nil {
		return err
	}
	if err := s.pipe.Cancel(id); err != nil {
		return &Error{Status: http.StatusConflict, Err: err}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "cancelling"})
	return nil
}

// branchEnvs maps branches to environments: x-berth.environments of the
// app's newest release, overridden by the branches given to berth apps
// connect; main → production when neither says anything.
func (s *Server) branchEnvs(app string, conn store.Connection) map[string]string {
	out := map[string]string{}
	var newest store.Release
	if a, err := s.store.GetApp(app); err == nil {
		for _, env := range a.Envs {
			if rels, err := s.store.ListReleases(app, env); err == nil && len(rels) > 0 && rels[0].CreatedAt.After(newest.CreatedAt) {
				newest = rels[0]
			}
		}
	}
	maps.Copy(out, newest.Spec.BranchEnvs())
	maps.Copy(out, conn.Branches)
	if len(out) == 0 {
		out["main"] = spec.DefaultEnv
	}
	return out
}
