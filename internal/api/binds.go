package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/spec"
)

// maxBindBundleBytes bounds an upload of project files: their own limit,
// plus room for the archive's headers.
const maxBindBundleBytes = spec.MaxBindBytes + 16<<20

// check refuses, before the CLI builds anything, what the server would
// refuse of a deploy of the definition (its bind mounts, all of them at
// once), and says which project files it lacks. It changes nothing.
func (s *Server) check(w http.ResponseWriter, r *http.Request) error {
	app, err := readApp(w, r)
	if err != nil {
		return err
	}
	env := r.PathValue("env")
	if err := s.dep.CheckBinds(app, env); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dto.CheckResponse{MissingBinds: s.dep.MissingBinds(app, env)})
	return nil
}

// putBinds keeps the project files of a bundle (a gzip-compressed tar,
// spec.WriteBindBundle) for the app environment's next deploy.
func (s *Server) putBinds(w http.ResponseWriter, r *http.Request) error {
	stored, err := s.dep.StoreBinds(r.PathValue("app"), r.PathValue("env"), http.MaxBytesReader(w, r.Body, maxBindBundleBytes))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &Error{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("project files: the upload is larger than %d MiB; bind mounts relative to the Compose file may hold at most %d MiB", maxBindBundleBytes>>20, spec.MaxBindBytes>>20)}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dto.BindsResponse{Stored: stored})
	return nil
}

// keepBinds checks app's bind mounts and keeps the files of its project
// binds that the server lacks, read from where app was loaded (the git
// pipeline's checkout).
func keepBinds(dep *deploy.Deployer, app *spec.App, env string) error {
	if err := dep.CheckBinds(app, env); err != nil {
		return err
	}
	missing := dep.MissingBinds(app, env)
	if len(missing) == 0 {
		return nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(spec.WriteBindBundle(pw, app, missing)) }()
	_, err := dep.StoreBinds(app.Name, env, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	return err
}
