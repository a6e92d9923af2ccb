package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/berth-dev/berth/internal/api/dto"
)

// Backups lists app/env's backups, newest first.
func (c *Client) Backups(ctx context.Context, app, env string) ([]dto.Backup, error) {
	var out []dto.Backup
	return out, c.getJSON(ctx, envPath(app, env)+"/backups", &out)
}

// Backup backs up app/env's volumes (or the one req names), passing each
// progress line to say, and returns the backups it made; the error says
// what failed.
func (c *Client) Backup(ctx context.Context, app, env string, req dto.BackupRequest, say func(string)) ([]dto.Backup, error) {
	res, err := c.streamResult(ctx, envPath(app, env)+"/backups", req, say, "the backup")
	if res == nil {
		return nil, err
	}
	return res.Backups, err
}

// Restore restores a backup of app/env, passing each progress line to
// say, and returns what it did.
func (c *Client) Restore(ctx context.Context, app, env string, req dto.RestoreRequest, say func(string)) (*dto.Restore, error) {
	res, err := c.streamResult(ctx, envPath(app, env)+"/restore", req, say, "the restore")
	if res == nil {
		return nil, err
	}
	return res.Restore, err
}

// streamResult POSTs body to path and reads the NDJSON answer: output
// lines to say, then the Result (with its error when it is not OK).
func (c *Client) streamResult(ctx context.Context, path string, body any, say func(string), what string) (*dto.Result, error) {
	resp, err := c.do(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res *dto.Result
	err = eachEvent(resp.Body, func(ev dto.StreamEvent) bool {
		if ev.Output != "" && say != nil {
			say(ev.Output)
		}
		if ev.Result == nil {
			return false
		}
		res = ev.Result
		return true
	})
	if errors.Is(err, errNoResult) {
		return nil, fmt.Errorf("the server closed the connection before %s finished: berth backups and berth events show how it ended", what)
	}
	if err != nil {
		return nil, err
	}
	if !res.OK {
		return res, errors.New(res.Error)
	}
	return res, nil
}

// BackupDestinations lists the server's S3-compatible backup
// destinations (never their secret keys).
func (c *Client) BackupDestinations(ctx context.Context) ([]dto.BackupDestination, error) {
	var out []dto.BackupDestination
	return out, c.getJSON(ctx, "/api/v1/backup-destinations", &out)
}

// AddBackupDestination stores (or replaces) a destination and returns
// them all.
func (c *Client) AddBackupDestination(ctx context.Context, req dto.BackupDestinationRequest) ([]dto.BackupDestination, error) {
	var out []dto.BackupDestination
	return out, c.sendJSON(ctx, http.MethodPost, "/api/v1/backup-destinations", req, &out)
}
