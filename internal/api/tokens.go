package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

// tokenPrefix starts every token berth makes, so that secret scanners
// and people can tell one when they see it.
const tokenPrefix = "berth_"

// newToken returns a fresh token: 256 random bits, hex-encoded.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return tokenPrefix + hex.EncodeToString(b[:]), nil
}

// createToken makes a token and answers it, once: the store keeps only
// its SHA-256.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req dto.TokenRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read token request: %w", err))
	}
	if err := store.CheckTokenName(req.Name); err != nil {
		return badRequest(err)
	}
	if err := checkRoleScope("token", req.Role, req.Apps, req.Envs); err != nil {
		return err
	}
	role := Role(req.Role)
	now := s.now().UTC()
	t := store.Token{Name: req.Name, Role: string(role), Apps: req.Apps, Envs: req.Envs, CreatedAt: now}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return badRequest(fmt.Errorf("expires_in %q: give a positive duration such as 2160h", req.ExpiresIn))
		}
		t.ExpiresAt = now.Add(d)
	}
	tok, err := newToken()
	if err != nil {
		return err
	}
	if err := s.store.CreateToken(t, sha256.Sum256([]byte(tok))); err != nil {
		if errors.Is(err, store.ErrExists) {
			return &Error{Status: http.StatusConflict, Err: err}
		}
		return err
	}
	writeJSON(w, http.StatusCreated, dto.NewToken{Token: tok, Info: tokenDTO(t)})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.store.ListTokens()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(ts, tokenDTO))
	return nil
}

// revokeToken revokes a token: its next request is refused.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.store.RevokeToken(r.PathValue("name"), s.now().UTC())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenDTO(t))
	return nil
}
