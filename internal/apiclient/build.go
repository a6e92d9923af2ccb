package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/api/dto"
)

// Build uploads a tar build context and builds req on the server,
// calling log for each line of output. It returns the image ID.
func (c *Client) Build(ctx context.Context, req dto.BuildRequest, buildContext io.Reader, log func(string)) (string, error) {
	q, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	path := "/api/v1/apps/" + url.PathEscape(req.App) + "/builds?request=" + url.QueryEscape(string(q))
	hdr, err := dto.EncodeBuildSecrets(req.Secrets)
	if err != nil {
		return "", err
	}
	resp, err := c.doRawWith(ctx, http.MethodPost, path, buildContext, hdr)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var id string
	var failed error
	err = eachEvent(resp.Body, func(ev dto.StreamEvent) bool {
		if ev.Output != "" && log != nil {
			log(ev.Output)
		}
		if ev.Result == nil {
			return false
		}
		id = ev.Result.ImageID
		if !ev.Result.OK {
			failed = errors.New(ev.Result.Error)
		}
		return true
	})
	if errors.Is(err, errNoResult) {
		return "", errors.New("the server closed the connection before the build finished")
	}
	if err != nil {
		return "", err
	}
	return id, failed
}
