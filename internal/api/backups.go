package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Backups of volumes: list, make one, restore one. Making and restoring
// stream their progress as NDJSON lines (dto.StreamEvent), then one
// Result, as berth run does.

var errNoBackups = fmt.Errorf("%w: this berth server makes no backups of volumes (on a Swarm cluster, volumes live on the nodes its tasks land on)", deploy.ErrInvalid)

func (s *Server) listBackups(w http.ResponseWriter, r *http.Request) error {
	if s.backups == nil {
		return errNoBackups
	}
	bs, err := s.backups.List(r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	now := s.now()
	writeJSON(w, http.StatusOK, each(bs, func(b store.Backup) dto.Backup { return backupDTO(b, now) }))
	return nil
}

func (s *Server) makeBackup(w http.ResponseWriter, r *http.Request) error {
	if s.backups == nil {
		return errNoBackups
	}
	var req dto.BackupRequest
	if err := decodeOptional(r, &req); err != nil {
		return badRequest(fmt.Errorf("read backup request: %w", err))
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	return streamOutput(w, func(say func(string, ...any)) (*dto.Result, error) {
		bs, err := s.backups.Backup(r.Context(), deploy.BackupRequest{App: app, Env: env, Volume: req.Volume}, say)
		now := s.now()
		return &dto.Result{Backups: each(bs, func(b store.Backup) dto.Backup { return backupDTO(b, now) })}, err
	})
}

func (s *Server) restore(w http.ResponseWriter, r *http.Request) error {
	if s.backups == nil {
		return errNoBackups
	}
	var req dto.RestoreRequest
	if err := decodeOptional(r, &req); err != nil {
		return badRequest(fmt.Errorf("read restore request: %w", err))
	}
	app, env := r.PathValue("app"), r.PathValue("env")
	if p, ok := principalOf(r); ok && req.ToEnv != "" && !p.allowsEnv(req.ToEnv) {
		// The route's permission covers the backup's environment; the
		// one restored into is in the body.
		return forbidden("%s may not restore into environment %s: that needs a token whose scope includes it", p.describe(), req.ToEnv)
	}
	return streamOutput(w, func(say func(string, ...any)) (*dto.Result, error) {
		res, err := s.backups.Restore(r.Context(), deploy.RestoreRequest{App: app, Env: env, Backup: req.Backup, Volume: req.Volume, ToEnv: req.ToEnv}, say)
		if res.Backup.ID == 0 {
			return &dto.Result{}, err
		}
		now := s.now()
		out := &dto.Restore{Backup: backupDTO(res.Backup, now), Env: res.Env, Volume: res.Volume, Restarted: res.Restarted}
		if res.Previous != nil {
			p := backupDTO(*res.Previous, now)
			out.Previous = &p
		}
		return &dto.Result{Restore: out}, err
	})
}

// decodeOptional reads a JSON body into v; an empty body leaves v as
// it is.
func decodeOptional(r *http.Request, v any) error {
	err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// streamOutput answers with the lines run says, then its Result; an
// error before the first line is the response's error.
func streamOutput(w http.ResponseWriter, run func(say func(string, ...any)) (*dto.Result, error)) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	started := false
	start := func() {
		if !started {
			started = true
			w.WriteHeader(http.StatusOK)
		}
	}
	res, err := run(func(format string, args ...any) {
		start()
		_ = enc.Encode(dto.StreamEvent{Output: fmt.Sprintf(format, args...)})
		_ = rc.Flush()
	})
	if err != nil && !started {
		return err
	}
	start()
	if res == nil {
		res = &dto.Result{}
	}
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
	}
	_ = enc.Encode(dto.StreamEvent{Result: res})
	return nil
}

func backupDTO(b store.Backup, now time.Time) dto.Backup {
	out := dto.Backup{ID: b.ID, App: b.App, Env: b.Env, Volume: b.Volume, EngineName: b.EngineName, Kind: b.Kind, Service: b.Service,
		Release: b.Release, Trigger: b.Trigger, CreatedBy: b.CreatedBy, StartedAt: b.StartedAt, AgeSeconds: int64(now.Sub(b.StartedAt) / time.Second),
		Size: b.Size, SHA256: b.SHA256, Destination: b.Destination, Key: b.Key, Paused: b.Paused, Status: string(b.Status), Error: b.Error}
	if !b.EndedAt.IsZero() {
		out.EndedAt = &b.EndedAt
	}
	return out
}

// NotifyBackupFailure adapts the notifier for deploy.BackupOptions'
// OnFailure: a failed backup tells the app's targets.
func NotifyBackupFailure(n *notify.Notifier) func(b store.Backup) {
	return func(b store.Backup) {
		msg := fmt.Sprintf("backup %d of volume %s (release %d, %s) failed: %s", b.ID, b.Volume, b.Release, b.Trigger, b.Error)
		n.Send(notify.Event{Kind: notify.BackupFailed, App: b.App, Env: b.Env, Duration: b.EndedAt.Sub(b.StartedAt), Message: msg, Time: b.EndedAt})
	}
}

func (s *Server) listBackupDestinations(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.store.ListS3Destinations()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, each(ds, backupDestinationDTO))
	return nil
}

func (s *Server) addBackupDestination(w http.ResponseWriter, r *http.Request) error {
	var req dto.BackupDestinationRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return badRequest(fmt.Errorf("read backup destination: %w", err))
	}
	d := req.BackupDestination
	d.Endpoint = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(d.Endpoint, "https://"), "http://"), "/")
	if err := spec.CheckAppName(d.Name); err != nil {
		return badRequest(fmt.Errorf("destination name: %w", err))
	}
	if err := s.store.SetS3Destination(store.S3Destination{Name: d.Name, Endpoint: d.Endpoint, Insecure: d.Insecure, Bucket: d.Bucket,
		Prefix: d.Prefix, Region: d.Region, AccessKey: d.AccessKey}, req.SecretKey); err != nil {
		return badRequest(err)
	}
	return s.listBackupDestinations(w, r)
}

func backupDestinationDTO(d store.S3Destination) dto.BackupDestination {
	return dto.BackupDestination{Name: d.Name, Endpoint: d.Endpoint, Insecure: d.Insecure, Bucket: d.Bucket, Prefix: d.Prefix, Region: d.Region, AccessKey: d.AccessKey}
}
