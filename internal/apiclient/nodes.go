package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// Nodes lists the cluster's nodes.
func (c *Client) Nodes(ctx context.Context) ([]dto.Node, error) {
	var out []dto.Node
	return out, c.getJSON(ctx, "/api/v1/nodes", &out)
}

// SetNodeAvailability drains, pauses or activates node; a drain waits up
// to wait for its tasks to move.
func (c *Client) SetNodeAvailability(ctx context.Context, node, availability string, wait time.Duration) (dto.NodeChange, error) {
	var out dto.NodeChange
	req := dto.NodeRequest{Availability: availability}
	if wait > 0 {
		req.Wait = wait.String()
	}
	resp, err := c.do(ctx, http.MethodPut, "/api/v1/nodes/"+url.PathEscape(node), req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
