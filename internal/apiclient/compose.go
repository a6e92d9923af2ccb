package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/api/dto"
)

// yamlHeader is the content type of an uploaded Compose file.
var yamlHeader = http.Header{"Content-Type": {"application/yaml"}}

// CheckCompose asks the server what the Compose file compose would
// deploy to app/env (the server reads it, with the environment's
// configuration for ${VAR}); nothing changes.
func (c *Client) CheckCompose(ctx context.Context, app, env string, compose []byte) (*dto.ComposeCheck, error) {
	resp, err := c.doRawWith(ctx, http.MethodPost, envPath(app, env)+"/compose/check", bytes.NewReader(compose), yamlHeader)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out dto.ComposeCheck
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("read the check's answer: %w", err)
	}
	return &out, nil
}

// DeployCompose deploys the Compose file compose to app/env, read by
// the server (as the console's upload does): a file that needs files
// beside it (a build context, project bind mounts) is refused.
func (c *Client) DeployCompose(ctx context.Context, app, env string, compose []byte, opts dto.DeployOptions, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	path := envPath(app, env) + "/compose"
	if opts.Canary > 0 {
		path += "?canary=" + strconv.Itoa(opts.Canary)
	}
	since := c.newestDeployment(ctx, app, env)
	resp, err := c.doRawWith(ctx, http.MethodPost, path, bytes.NewReader(compose), yamlHeader)
	if err != nil {
		return nil, err
	}
	return c.readStream(ctx, app, env, since, resp, onProgress)
}
