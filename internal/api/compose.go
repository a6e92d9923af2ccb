package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// An uploaded Compose file (the console's "Deploy a Compose file") is
// loaded here, as the git pipeline loads a checkout's: with compose-go,
// interpolated from the environment's configuration, named by the URL.
// What needs files beside it (a build context, project bind mounts,
// env_file) is refused, saying to deploy it with the CLI, which sends
// them. The deploy itself is the deploy route's.

// readCompose loads the Compose file a request's body holds for the app
// and environment its URL names.
func (s *Server) readCompose(w http.ResponseWriter, r *http.Request) (*spec.App, error) {
	name, env := r.PathValue("app"), r.PathValue("env")
	if err := spec.CheckAppName(name); err != nil {
		return nil, badRequest(err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAppDefinitionBytes))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf(
			"read the Compose file: it is larger than the API's limit of %d MiB; make it smaller, or deploy it with berth deploy -f FILE", MaxAppDefinitionBytes>>20)}
	}
	if err != nil {
		return nil, badRequest(fmt.Errorf("read the Compose file: %w", err))
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, badRequest(fmt.Errorf("the Compose file is empty: choose a compose.yaml with a services: section"))
	}
	dir, err := os.MkdirTemp("", "berth-upload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		return nil, err
	}
	cfg, err := s.store.Config(name, env)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	app, err := spec.Load(r.Context(), spec.LoadOptions{Files: []string{file}, Environ: cfg, DefaultName: name})
	if err != nil {
		// The temporary directory means nothing to the person who uploaded.
		msg := strings.ReplaceAll(err.Error(), file, "the uploaded Compose file")
		msg = strings.ReplaceAll(msg, dir, "the upload's directory")
		return nil, badRequest(fmt.Errorf("%s\n(an uploaded Compose file is read alone: one that needs files beside it, such as env_file, a .env file or a bind mount of the project's files, deploys with berth deploy -f FILE, which sends them)", msg))
	}
	app = app.ForEnv(env)
	if app.Name != name {
		return nil, badRequest(fmt.Errorf("the Compose file names the app %q, but you are deploying %q: change its name: to %s, or deploy it as %s", app.Name, name, name, app.Name))
	}
	var refused []string
	for _, svc := range app.Services {
		if svc.Build != nil {
			refused = append(refused, fmt.Sprintf("service %q has build: an uploaded file cannot send its build context; give it an image: that berth can pull, deploy it with berth deploy -f FILE, or connect a git repository (berth apps connect)", svc.Name))
		}
		for _, m := range svc.Volumes {
			if m.Project != "" {
				refused = append(refused, fmt.Sprintf("service %q mounts %s, a path beside the Compose file: an uploaded file has no files beside it; deploy it with berth deploy -f FILE, which sends them", svc.Name, m.Project))
			}
		}
	}
	if len(refused) > 0 {
		return nil, badRequest(errors.New(strings.Join(refused, "\n")))
	}
	if err := s.dep.CheckBinds(app, env); err != nil {
		return nil, err
	}
	return app, nil
}

// checkCompose loads an uploaded Compose file and answers what it would
// deploy, changing nothing: the console's confirmation says it.
func (s *Server) checkCompose(w http.ResponseWriter, r *http.Request) error {
	app, err := s.readCompose(w, r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dto.ComposeCheck{App: *app, Warnings: nonNil(app.Warnings), Notes: nonNil(app.Notes)})
	return nil
}

// deployCompose deploys an uploaded Compose file, as the deploy route
// deploys a definition (?canary=N as there), streaming its progress.
func (s *Server) deployCompose(w http.ResponseWriter, r *http.Request) error {
	opts, err := deployQuery(r)
	if err != nil {
		return err
	}
	app, err := s.readCompose(w, r)
	if err != nil {
		return err
	}
	env := r.PathValue("env")
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		for _, m := range app.Warnings {
			p(deploy.Progress{Message: "warning: " + m})
		}
		return s.dep.Deploy(ctx, app, env, deployOptions(opts), p)
	})
}

// deployQuery reads a deploy's options from its query: replace_stateful
// and canary.
func deployQuery(r *http.Request) (dto.DeployOptions, error) {
	opts := dto.DeployOptions{ReplaceStateful: r.URL.Query().Get("replace_stateful") == "true"}
	if v := r.URL.Query().Get("canary"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 99 {
			return opts, badRequest(fmt.Errorf("canary=%q: give the percentage of clients the new release gets, from 1 to 99", v))
		}
		opts.Canary = n
	}
	return opts, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
