package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// LostWait is how long a client whose progress stream broke keeps asking
// the server what became of the deployment (a server that crashed and is
// restarted, by systemd or by hand, answers again within it).
const LostWait = 30 * time.Second

// StreamLostError is a deployment stream that broke before its result:
// the connection was lost, or the server stopped. What the server
// recorded since, if it answered in time, is in Deployment.
type StreamLostError struct {
	App, Env string
	// Deployment is the newest deployment of App/Env as the server
	// recorded it after the loss; nil when it did not answer.
	Deployment *dto.Deployment
	// Answered: the server answered again, with no deployment begun
	// by the request.
	Answered bool
	// Live is the release live after an interrupted deployment (0: none
	// or unknown).
	Live int64
	Err  error // how the stream broke
}

func (e *StreamLostError) Unwrap() error { return e.Err }

func (e *StreamLostError) Error() string {
	d := e.Deployment
	switch {
	case d == nil && e.Answered:
		return fmt.Sprintf("lost the connection to the server before the outcome (%v); it answers again and began no deployment of %s/%s: nothing changed, run the command again", e.Err, e.App, e.Env)
	case d == nil && e.App == "":
		return fmt.Sprintf("lost the connection to the server before the outcome (%v): berth may have stopped; see berth status when it answers again", e.Err)
	case d == nil:
		return fmt.Sprintf("lost the connection to the server before the outcome (%v), and it did not answer again within %s: berth may have stopped, "+
			"in which case the deployment is recorded as interrupted when it starts again and the release live before keeps serving; "+
			"once it answers, see berth status %s --env %s and deploy again if it was interrupted", e.Err, LostWait, e.App, e.Env)
	case d.Status == dto.DeploymentInterrupted:
		return fmt.Sprintf("berth stopped while deployment %d of %s/%s ran: it was interrupted (%s); %s",
			d.ID, e.App, e.Env, d.Error, e.whatToDo())
	case d.Status == dto.DeploymentRunning:
		return fmt.Sprintf("lost the connection to the server (%v); deployment %d of %s/%s goes on there: follow it with berth status %s --env %s",
			e.Err, d.ID, e.App, e.Env, e.App, e.Env)
	case d.Status == dto.DeploymentFailed:
		return fmt.Sprintf("lost the connection to the server before the outcome; deployment %d of %s/%s failed: %s", d.ID, e.App, e.Env, d.Error)
	default:
		return fmt.Sprintf("lost the connection to the server before the outcome; deployment %d of %s/%s %s", d.ID, e.App, e.Env, d.Status)
	}
}

// whatToDo is the advice for an interrupted deployment: its release is
// live (berth stopped after the commit point) or not.
func (e *StreamLostError) whatToDo() string {
	d := e.Deployment
	switch {
	case d.Kind == dto.KindScale || d.Kind == dto.KindRemove:
		return fmt.Sprintf("berth status %s --env %s shows what runs now; run the command again", e.App, e.Env)
	case e.Live == d.ReleaseID:
		return fmt.Sprintf("release %d had gone live before and stays live; berth finishes its switch as it starts (see berth status %s --env %s)", d.ReleaseID, e.App, e.Env)
	case e.Live != 0:
		return fmt.Sprintf("release %d did not go live, release %d keeps serving; run the command again", d.ReleaseID, e.Live)
	default:
		return fmt.Sprintf("release %d did not go live; see berth releases %s --env %s and run the command again", d.ReleaseID, e.App, e.Env)
	}
}

// settle turns a stream that broke before its result into what the
// server recorded: it asks for app/env's newest deployment, if newer
// than since (the newest before the request), until the server answers
// or LostWait passes. A server that answers again after a
// crash has marked the deployment interrupted before it serves its API;
// one that never stopped reports it running. A deployment that
// succeeded after all is returned as such.
func (c *Client) settle(ctx context.Context, app, env string, since int64, dep *dto.Deployment, err error) (*dto.Deployment, error) {
	var lost *StreamLostError
	if !errors.As(err, &lost) || app == "" {
		return dep, err
	}
	lost.App, lost.Env = app, env
	wait := c.lostWait
	if wait == 0 {
		wait = LostWait
	}
	deadline := time.Now().Add(wait)
	for {
		deps, derr := c.Deployments(ctx, app, env, 1)
		if IsStatus(derr, http.StatusNotFound) || (derr == nil && (len(deps) == 0 || deps[0].ID <= since)) {
			lost.Answered = true // berth stopped before it began one
			return nil, lost
		}
		if derr == nil {
			d := deps[0]
			lost.Deployment = &d
			if d.Status == dto.DeploymentSucceeded {
				return &d, nil
			}
			if d.Status == dto.DeploymentInterrupted {
				lost.Live = c.liveRelease(ctx, app, env)
			}
			return &d, lost
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, lost
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// liveRelease is app/env's live release, 0 when none or unknown.
func (c *Client) liveRelease(ctx context.Context, app, env string) int64 {
	rels, err := c.Releases(ctx, app, env)
	if err != nil {
		return 0
	}
	for _, r := range rels {
		if r.Status == dto.StatusLive {
			return r.ID
		}
	}
	return 0
}

// newestDeployment is the ID of app/env's newest deployment, 0 when none
// or unknown: a stream that breaks is settled with a newer one only.
func (c *Client) newestDeployment(ctx context.Context, app, env string) int64 {
	deps, err := c.Deployments(ctx, app, env, 1)
	if err != nil || len(deps) == 0 {
		return 0
	}
	return deps[0].ID
}
