package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/build"
	"github.com/berth-dev/berth/internal/store"
)

// connection answers the app's link to its repository: which branch
// deploys to which environment. An app that is not connected answers
// connected: false (not 404: a page asks before it offers the button).
func (s *Server) connection(w http.ResponseWriter, r *http.Request) error {
	app := r.PathValue("app")
	if _, err := s.store.GetApp(app); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	conn, _, err := s.store.GetConnection(app)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, dto.Connection{})
		return nil
	}
	if err != nil {
		return err
	}
	repo := conn.Repo
	if u, err := url.Parse(repo); err == nil && u.User != nil {
		repo = u.Redacted()
	}
	writeJSON(w, http.StatusOK, dto.Connection{Connected: true, Repo: repo, File: conn.File, Branches: s.branchEnvs(app, conn)})
	return nil
}

// deployBranch queues a pipeline build of the head of a branch (the one
// mapped to the environment unless the request names another): the
// same build a push would start, its deploy recorded as the caller's.
// It answers 202 with the build, whose page follows it.
func (s *Server) deployBranch(w http.ResponseWriter, r *http.Request) error {
	if s.pipe == nil {
		return errors.New("this server runs no build pipeline")
	}
	var req dto.BranchDeployRequest
	if r.ContentLength != 0 {
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			return badRequest(fmt.Errorf("read the branch deploy request: %w", err))
		}
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	conn, _, err := s.store.GetConnection(app)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Err: fmt.Errorf("%s is connected to no repository: connect it first (berth apps connect %s --repo URL)", app, app)}
	}
	if err != nil {
		return err
	}
	envs := s.branchEnvs(app, conn)
	branch := req.Branch
	if branch == "" {
		var mapped []string
		for b, e := range envs {
			if e == env {
				mapped = append(mapped, b)
			}
		}
		slices.Sort(mapped)
		switch len(mapped) {
		case 0:
			return badRequest(fmt.Errorf("no branch of %s deploys to %s (branches: %s): name one, or map one with berth apps connect --branch BRANCH=%s", conn.Repo, env, branchList(envs), env))
		case 1:
			branch = mapped[0]
		default:
			return badRequest(fmt.Errorf("branches %s all deploy to %s: name the one to deploy", strings.Join(mapped, ", "), env))
		}
	}
	commit, err := s.pipe.Head(r.Context(), app, branch)
	if errors.Is(err, build.ErrNoBranch) {
		return &Error{Status: http.StatusNotFound, Err: err}
	}
	if err != nil {
		return &Error{Status: http.StatusBadGateway, Err: err}
	}
	actor := ""
	if p, ok := principalOf(r); ok {
		actor = p.name
	}
	b, err := s.pipe.Enqueue(build.Trigger{App: app, Env: env, Branch: branch, Commit: commit, Actor: actor,
		Message: "head of " + branch + ", deployed by " + actor})
	if err != nil {
		return err
	}
	noteOf(r).build(b.ID)
	writeJSON(w, http.StatusAccepted, buildDTO(b))
	return nil
}

// branchList is "main → production, dev → staging", sorted.
func branchList(envs map[string]string) string {
	var out []string
	for b, e := range envs {
		out = append(out, b+" → "+e)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
