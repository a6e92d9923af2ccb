package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkVarNames(names ...string) error {
	for _, n := range names {
		if !varName.MatchString(n) {
			return badRequest(fmt.Errorf("%q is not a valid variable name: use letters, digits and _, not starting with a digit", n))
		}
	}
	return nil
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	app, env := r.PathValue("app"), r.PathValue("env")
	cfg, err := s.store.Config(app, env)
	if err != nil {
		return fmt.Errorf("app %s/%s: %w", app, env, err)
	}
	names, err := s.store.SecretNames(app, env)
	if err != nil {
		return err
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, dto.ConfigView{Config: cfg, Secrets: names})
	return nil
}

// changeConfig applies a change, then rolls out a release with it.
func (s *Server) changeConfig(w http.ResponseWriter, r *http.Request) error {
	var ch dto.ConfigChange
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ch); err != nil {
		return badRequest(fmt.Errorf("read configuration change: %w", err))
	}
	names := append([]string(nil), ch.Unset...)
	for k := range ch.Set {
		names = append(names, k)
	}
	if len(names) == 0 {
		return badRequest(errors.New("nothing to change: give KEY=VALUE pairs to set or KEYs to unset"))
	}
	if err := checkVarNames(names...); err != nil {
		return err
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	if _, err := s.store.SetConfig(app, env, ch.Set, ch.Unset); err != nil {
		return err
	}
	return s.rollOut(w, r, app, env)
}

func (s *Server) setSecret(w http.ResponseWriter, r *http.Request) error {
	app, env, name := r.PathValue("app"), r.PathValue("env"), r.PathValue("name")
	if err := checkVarNames(name); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return badRequest(fmt.Errorf("read secret value: %w", err))
	}
	value := strings.TrimRight(string(b), "\r\n")
	if value == "" {
		return badRequest(fmt.Errorf("secret %s: empty value (pipe it on standard input)", name))
	}
	if _, err := s.store.GetApp(app); err != nil && r.URL.Query().Get("new_app") != "true" {
		// SetSecret would create the app: a typo must not make one. A
		// secret that an app's first deploy needs is set with new_app.
		return fmt.Errorf("app %q: %w: check the name, or give --new-app to set a secret for the first deploy of a new app", app, err)
	}
	if err := s.store.SetSecret(app, env, name, value); err != nil {
		return fmt.Errorf("set secret %s of %s/%s: %w", name, app, env, err)
	}
	return s.rollOut(w, r, app, env)
}

func (s *Server) unsetSecret(w http.ResponseWriter, r *http.Request) error {
	app, env, name := r.PathValue("app"), r.PathValue("env"), r.PathValue("name")
	found, err := s.store.UnsetSecret(app, env, name)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("secret %s of %s/%s: %w", name, app, env, store.ErrNotFound)
	}
	return s.rollOut(w, r, app, env)
}

// rollOut streams the release a configuration change makes.
func (s *Server) rollOut(w http.ResponseWriter, r *http.Request, app, env string) error {
	return s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
		dep, err := s.dep.Reconfigure(ctx, app, env, p)
		if err == nil && dep.ID == 0 {
			p(deploy.Progress{Message: "saved; nothing is live yet, the next deploy uses it"})
		}
		return dep, err
	})
}

// run streams a one-off command's output, then its exit code. With
// "Upgrade: berth-tty" it runs the command on a terminal instead.
func (s *Server) run(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get("Upgrade") == dto.TTYProtocol {
		return s.runTTY(w, r)
	}
	var req dto.RunRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read run request: %w", err))
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	w.Header().Set("Content-Type", "application/x-ndjson")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	started := false
	out := lineWriter(func(line string) {
		if !started {
			started = true
			w.WriteHeader(http.StatusOK)
		}
		_ = enc.Encode(dto.StreamEvent{Output: line})
		_ = rc.Flush()
	})
	code, err := s.dep.Run(r.Context(), app, env, req.Service, req.Command, out)
	if err != nil && !started {
		return err
	}
	res := &dto.Result{OK: err == nil, ExitCode: &code}
	if err != nil {
		res.Error = err.Error()
	}
	if !started {
		w.WriteHeader(http.StatusOK)
	}
	_ = enc.Encode(dto.StreamEvent{Result: res})
	return nil
}

// lineWriter is an io.Writer calling f once per line written.
type lineWriter func(string)

func (f lineWriter) Write(p []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(p), "\n") {
		if l != "" {
			f(strings.TrimSuffix(l, "\n"))
		}
	}
	return len(p), nil
}
