package api

import (
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// started is when this process started serving the API.
var started = time.Now().UTC()

func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.info())
	return nil
}

func (s *Server) info() dto.ServerInfo {
	in := dto.ServerInfo{Version: s.version, PID: os.Getpid(), StartedAt: started}
	if s.handoffErr != nil {
		in.LastHandoffError = s.handoffErr()
	}
	return in
}

// restartServer starts a hand-off: a new server process takes the
// listening sockets over and this one ends once it is ready. 202: it
// has started; GET /api/v1/server tells when the new process answers.
func (s *Server) restartServer(w http.ResponseWriter, r *http.Request) error {
	if s.restart == nil {
		return &Error{Status: http.StatusNotImplemented, Err: errors.New("this server cannot restart itself (it was not started by berth server)")}
	}
	if err := s.restart(); err != nil {
		return &Error{Status: http.StatusConflict, Err: err}
	}
	writeJSON(w, http.StatusAccepted, s.info())
	return nil
}
