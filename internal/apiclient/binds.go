package apiclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
)

// Check asks the server whether it would accept a deploy of app to env
// (its bind mounts, all refusals at once) before anything is built, and
// which project files it lacks.
func (c *Client) Check(ctx context.Context, app *spec.App, env string) (dto.CheckResponse, error) {
	var out dto.CheckResponse
	resp, err := c.do(ctx, http.MethodPost, envPath(app.Name, env)+"/check", app)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// SendBinds sends the files of app's project binds whose content hashes
// are in want, for the next deploy of app to env.
func (c *Client) SendBinds(ctx context.Context, app *spec.App, env string, want []string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(spec.WriteBindBundle(pw, app, want)) }()
	resp, err := c.doRaw(ctx, http.MethodPut, envPath(app.Name, env)+"/binds", pr)
	pr.CloseWithError(io.ErrClosedPipe) // the writer stops when the request does
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
