// Package apiclient is the typed client of berth's API, used by the CLI.
package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
)

// Client talks to one berth server.
type Client struct {
	addr  string
	token string
	http  *http.Client
	// lostWait overrides LostWait (tests).
	lostWait time.Duration
}

// New returns a client for the server at addr (e.g. http://127.0.0.1:7070)
// authenticating with token.
func New(addr, token string) *Client {
	return &Client{addr: strings.TrimRight(addr, "/"), token: token, http: &http.Client{}}
}

// APIError is an error response from the server.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	if e.Status == http.StatusUnauthorized {
		return e.Message + " (set BERTH_TOKEN, or run on the server host as a user who can read its admin-token)"
	}
	return e.Message
}

// IsStatus reports whether err is an API error with that HTTP status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	if body == nil {
		return c.doRaw(ctx, method, path, nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.doRaw(ctx, method, path, bytes.NewReader(b))
}

// doRaw sends a request with an arbitrary body and maps error responses.
func (c *Client) doRaw(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	return c.doRawWith(ctx, method, path, body, nil)
}

// doRawWith is doRaw with extra request headers.
func (c *Client) doRawWith(ctx context.Context, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.addr+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the berth server at %s: %w (is `berth server` running? set BERTH_ADDR to its --api-addr)", c.addr, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb dto.ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
		}
		return nil, &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func envPath(app, env string) string {
	return "/api/v1/apps/" + url.PathEscape(app) + "/envs/" + url.PathEscape(env)
}

// Apps lists apps and their environments.
func (c *Client) Apps(ctx context.Context) ([]dto.AppSummary, error) {
	var out []dto.AppSummary
	return out, c.getJSON(ctx, "/api/v1/apps", &out)
}

// StatusAll reports every app environment.
func (c *Client) StatusAll(ctx context.Context) ([]dto.EnvStatus, error) {
	var out []dto.EnvStatus
	return out, c.getJSON(ctx, "/api/v1/status", &out)
}

// Status reports one app environment.
func (c *Client) Status(ctx context.Context, app, env string) (dto.EnvStatus, error) {
	var out dto.EnvStatus
	return out, c.getJSON(ctx, envPath(app, env)+"/status", &out)
}

// Releases lists an app environment's releases, newest first.
func (c *Client) Releases(ctx context.Context, app, env string) ([]dto.Release, error) {
	var out []dto.Release
	return out, c.getJSON(ctx, envPath(app, env)+"/releases", &out)
}

// Deployments lists an app environment's deployments, newest first.
func (c *Client) Deployments(ctx context.Context, app, env string, limit int) ([]dto.Deployment, error) {
	var out []dto.Deployment
	return out, c.getJSON(ctx, envPath(app, env)+"/deployments?limit="+strconv.Itoa(limit), &out)
}

// Deploy deploys app to env, calling onProgress for each progress line,
// and returns the outcome. A deployment that did not go live is an error
// carrying the server's reason, with the deployment record when there is
// one.
func (c *Client) Deploy(ctx context.Context, app *spec.App, env string, opts dto.DeployOptions, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	q := url.Values{}
	if opts.ReplaceStateful {
		q.Set("replace_stateful", "true")
	}
	if opts.Canary > 0 {
		q.Set("canary", strconv.Itoa(opts.Canary))
	}
	path := envPath(app.Name, env) + "/deploy"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	since := c.newestDeployment(ctx, app.Name, env)
	resp, err := c.do(ctx, http.MethodPost, path, app)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app.Name, env, since, resp, onProgress)
}

// Rollback rolls app/env back to release to (0: the previous good one).
func (c *Client) Rollback(ctx context.Context, app, env string, to int64, opts dto.DeployOptions, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.do(ctx, http.MethodPost, envPath(app, env)+"/rollback", dto.RollbackRequest{To: to, ReplaceStateful: opts.ReplaceStateful})
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}

// Scale sets the replica counts of services of app/env's live release
// (zero downtime), streaming its progress.
func (c *Client) Scale(ctx context.Context, app, env string, services []dto.ScaleTarget, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.do(ctx, http.MethodPost, envPath(app, env)+"/scale", dto.ScaleRequest{Services: services})
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}

// Redeploy deploys app/env's live release again as a new release, with
// its images and definition and the current configuration (zero
// downtime).
func (c *Client) Redeploy(ctx context.Context, app, env string, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	resp, err := c.do(ctx, http.MethodPost, envPath(app, env)+"/redeploy", nil)
	if err != nil {
		return nil, err
	}
	return readStream(resp, onProgress)
}

// Promote makes app/env's canary its live release (zero downtime).
func (c *Client) Promote(ctx context.Context, app, env string, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.do(ctx, http.MethodPost, envPath(app, env)+"/promote", nil)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}

// SetCanaryWeight moves app/env's running canary to weight percent of
// clients (1-99); nothing is deployed.
func (c *Client) SetCanaryWeight(ctx context.Context, app, env string, weight int) (*dto.CanaryWeight, error) {
	resp, err := c.do(ctx, http.MethodPut, envPath(app, env)+"/canary", dto.CanaryWeightRequest{Weight: weight})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out dto.CanaryWeight
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("read the canary's answer: %w", err)
	}
	return &out, nil
}

// DeployError is a deployment that ran and failed.
type DeployError struct {
	Message    string
	Deployment *dto.Deployment
}

func (e *DeployError) Error() string { return e.Message }

// readStream reads a deployment's stream to its result; a stream that
// breaks first is settled with what the server recorded of app/env's
// deployments newer than since (app "": not asked).
func (c *Client) readStream(ctx context.Context, app, env string, since int64, resp *http.Response, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	dep, err := readStream(resp, onProgress)
	return c.settle(ctx, app, env, since, dep, err)
}

func readStream(resp *http.Response, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	defer resp.Body.Close()
	var dep *dto.Deployment
	var failed error
	err := eachEvent(resp.Body, func(ev dto.StreamEvent) bool {
		if ev.Progress != nil && onProgress != nil {
			onProgress(*ev.Progress)
		}
		if ev.Result == nil {
			return false
		}
		dep = ev.Result.Deployment
		if !ev.Result.OK {
			failed = &DeployError{Message: ev.Result.Error, Deployment: ev.Result.Deployment}
		}
		return true
	})
	if err != nil {
		if errors.Is(err, errNoResult) {
			err = errors.New("the server closed the progress stream without a result")
		}
		return nil, &StreamLostError{Err: err}
	}
	return dep, failed
}

// errNoResult: a stream ended without its result event.
var errNoResult = errors.New("the stream ended without a result")

// eachEvent reads newline-delimited StreamEvents from r, calling f for
// each until f returns true (it saw the result). It returns errNoResult
// when the stream ends first.
func eachEvent(r io.Reader, f func(dto.StreamEvent) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev dto.StreamEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("read the server's stream: %w", err)
		}
		if f(ev) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errNoResult
}

// LogOptions selects logs.
type LogOptions struct {
	Service    string
	Follow     bool
	Tail       int
	Timestamps bool
}

// Logs copies app/env's logs to w.
func (c *Client) Logs(ctx context.Context, app, env string, o LogOptions, w io.Writer) error {
	q := url.Values{}
	if o.Service != "" {
		q.Set("service", o.Service)
	}
	if o.Follow {
		q.Set("follow", "1")
	}
	if o.Tail > 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	if o.Timestamps {
		q.Set("timestamps", "1")
	}
	resp, err := c.do(ctx, http.MethodGet, envPath(app, env)+"/logs?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
