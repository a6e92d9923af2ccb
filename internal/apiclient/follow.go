package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/api/dto"
)

// FollowDeployment follows deployment id (GET
// /api/v1/deployments/{id}/progress, server-sent events) from its first
// line until its outcome, as a deploy's own answer does: a deployment
// started elsewhere (the console, CI) or one that already ended. It
// returns the deployment, and a *DeployError when it did not go live.
func (c *Client) FollowDeployment(ctx context.Context, id int64, onProgress func(dto.Progress)) (*dto.Deployment, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/deployments/"+strconv.FormatInt(id, 10)+"/progress", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data.WriteString(strings.TrimPrefix(line, "data: "))
		case line == "" && event != "":
			done, dep, err := followEvent(event, data.String(), onProgress)
			if done {
				return dep, err
			}
			event = ""
			data.Reset()
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lost the connection to the server while following deployment %d (it goes on; see berth status): %w", id, err)
	}
	return nil, fmt.Errorf("the server closed deployment %d's progress without its outcome (see berth status)", id)
}

// followEvent handles one event of a progress stream; done: the stream
// told its end.
func followEvent(event, data string, onProgress func(dto.Progress)) (done bool, dep *dto.Deployment, err error) {
	switch event {
	case "progress":
		var p dto.Progress
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return true, nil, fmt.Errorf("read progress: %w", err)
		}
		if onProgress != nil {
			onProgress(p)
		}
	case "result":
		var res dto.Result
		if err := json.Unmarshal([]byte(data), &res); err != nil {
			return true, nil, fmt.Errorf("read the outcome: %w", err)
		}
		if !res.OK {
			return true, res.Deployment, &DeployError{Message: res.Error, Deployment: res.Deployment}
		}
		return true, res.Deployment, nil
	case "ended", "problem":
		var eb dto.ErrorBody
		_ = json.Unmarshal([]byte(data), &eb)
		return true, nil, errors.New(eb.Error)
	}
	return false, nil, nil
}
