package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// bearer is the token every /api/v1/ request must carry. It keeps the
// token's SHA-256 only: comparing two digests of fixed length in constant
// time tells an attacker neither where a guess first differs nor how long
// the token is.
type bearer struct {
	sum [sha256.Size]byte
	set bool
}

func newBearer(token string) bearer {
	return bearer{sum: sha256.Sum256([]byte(token)), set: token != ""}
}

// matches reports whether got is the token, in time independent of both.
// A server without a token matches nothing.
func (b bearer) matches(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], b.sum[:]) == 1 && b.set
}

// auth checks the bearer token, then runs h and writes its error.
func (s *Server) auth(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.token.matches(got) {
			msg := "missing bearer token: send Authorization: Bearer <token> (the token is in the server's DATA_DIR/admin-token; the CLI reads BERTH_TOKEN)"
			if ok {
				msg = "invalid bearer token: use the token in the server's DATA_DIR/admin-token"
			}
			writeError(w, r, s.log, &Error{Status: http.StatusUnauthorized, Err: errors.New(msg)})
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}
