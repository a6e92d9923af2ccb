package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/api"
)

// Build uploads a tar build context and builds req on the server,
// calling log for each line of output. It returns the image ID.
func (c *Client) Build(ctx context.Context, req api.BuildRequest, buildContext io.Reader, log func(string)) (string, error) {
	q, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	path := "/api/v1/apps/" + url.PathEscape(req.App) + "/builds?request=" + url.QueryEscape(string(q))
	resp, err := c.doRaw(ctx, http.MethodPost, path, buildContext)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev api.StreamEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return "", fmt.Errorf("read build output: %w", err)
		}
		if ev.Output != "" && log != nil {
			log(ev.Output)
		}
		if ev.Result != nil {
			if !ev.Result.OK {
				return "", fmt.Errorf("%s", ev.Result.Error)
			}
			return ev.Result.ImageID, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("the server closed the connection before the build finished")
}
