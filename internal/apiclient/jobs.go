package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

func jobPath(app, env, job string) string {
	return envPath(app, env) + "/jobs/" + url.PathEscape(job)
}

// Jobs lists the scheduled jobs of app/env's live release with their
// next and last runs.
func (c *Client) Jobs(ctx context.Context, app, env string) ([]dto.Job, error) {
	var out []dto.Job
	return out, c.getJSON(ctx, envPath(app, env)+"/jobs", &out)
}

// JobRuns lists the kept runs of app/env's job, newest first, at most
// limit (0: all kept).
func (c *Client) JobRuns(ctx context.Context, app, env, job string, limit int) ([]dto.JobRun, error) {
	var out []dto.JobRun
	return out, c.getJSON(ctx, fmt.Sprintf("%s/runs?limit=%d", jobPath(app, env, job), limit), &out)
}

// JobRun returns run id of app/env's job; 0 is its latest run.
func (c *Client) JobRun(ctx context.Context, app, env, job string, id int64) (dto.JobRun, error) {
	run := "latest"
	if id > 0 {
		run = fmt.Sprint(id)
	}
	var out dto.JobRun
	return out, c.getJSON(ctx, jobPath(app, env, job)+"/runs/"+run, &out)
}

// RunJob starts a run of app/env's job now and returns it as started.
func (c *Client) RunJob(ctx context.Context, app, env, job string) (dto.JobRun, error) {
	var out dto.JobRun
	return out, c.sendJSON(ctx, http.MethodPost, jobPath(app, env, job)+"/runs", nil, &out)
}

// WaitJobRun polls run id of app/env's job every poll until it ended,
// and returns it then.
func (c *Client) WaitJobRun(ctx context.Context, app, env, job string, id int64, poll time.Duration) (dto.JobRun, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		r, err := c.JobRun(ctx, app, env, job, id)
		if err != nil || r.Status != "running" {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-t.C:
		}
	}
}
