package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// checkRoleScope says what is wrong with a role and scope, for a token
// or a user (what): the role must be one of berth's, and an admin is
// never scoped.
func checkRoleScope(what, role string, apps, envs []string) error {
	if !slices.Contains(allRoles, Role(role)) {
		return badRequest(fmt.Errorf("role %q: give one of %s", role, rolesText(allRoles)))
	}
	if Role(role) == RoleAdmin && len(apps)+len(envs) > 0 {
		return badRequest(fmt.Errorf("an admin %s is not scoped (it manages tokens, users, registries and nodes of every app): give --role deployer, viewer or ci with --app", what))
	}
	for _, a := range apps {
		if err := spec.CheckAppName(a); err != nil {
			return badRequest(fmt.Errorf("--app %q: %w", a, err))
		}
	}
	for _, e := range envs {
		if e == "" {
			return badRequest(errors.New("--env: an environment name is empty"))
		}
	}
	return nil
}

// addUser adds a console user with a password; the store keeps only its
// argon2id hash.
func (s *Server) addUser(w http.ResponseWriter, r *http.Request) error {
	var req dto.UserRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		return badRequest(errors.New("read user request: send JSON {\"name\", \"role\", \"apps\", \"envs\", \"password\"}"))
	}
	if err := store.CheckUserName(req.Name); err != nil {
		return badRequest(err)
	}
	if err := checkRoleScope("user", req.Role, req.Apps, req.Envs); err != nil {
		return err
	}
	if err := checkPassword(req.Password); err != nil {
		return badRequest(err)
	}
	hash, err := hashPassword(req.Password, s.sess.argon)
	if err != nil {
		return err
	}
	u := store.User{Name: req.Name, Role: req.Role, Apps: req.Apps, Envs: req.Envs, PasswordHash: hash, CreatedAt: s.now().UTC()}
	if err := s.store.CreateUser(u); err != nil {
		if errors.Is(err, store.ErrExists) {
			return &Error{Status: http.StatusConflict, Err: fmt.Errorf("%w: remove it first, or berth users passwd to change its password", err)}
		}
		return err
	}
	writeJSON(w, http.StatusCreated, userDTO(u))
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.store.ListUsers()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(us, userDTO))
	return nil
}

// removeUser removes a user and ends its sessions at once.
func (s *Server) removeUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	u, err := s.store.GetUser(name)
	if err != nil {
		return err
	}
	n, err := s.store.RemoveUser(name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dto.UserChange{User: userDTO(u), SessionsEnded: n})
	return nil
}

// setPassword sets a user's password and ends its sessions, but the
// one the request came with (a user changing its own password stays
// signed in there).
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) error {
	var req dto.PasswordRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		return badRequest(errors.New("read password request: send JSON {\"password\": …}"))
	}
	if err := checkPassword(req.Password); err != nil {
		return badRequest(err)
	}
	name := r.PathValue("name")
	u, err := s.store.GetUser(name)
	if err != nil {
		return err
	}
	hash, err := hashPassword(req.Password, s.sess.argon)
	if err != nil {
		return err
	}
	p, _ := principalOf(r)
	keep := ""
	if p.user == name {
		keep = p.session
	}
	n, err := s.store.SetPassword(name, hash, keep)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dto.UserChange{User: userDTO(u), SessionsEnded: n})
	return nil
}
