package docker

import (
	"context"
	"fmt"
	"strings"
	"sync"

	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// locator runs berth's Dockerfile frontend and remembers what it needs to
// name the Dockerfile line of a failure: the frontend's own error (with
// its source locations: a parse error), the LLB it had solved (whose
// source map gives each step's Dockerfile lines) and the steps the
// engine reported failed. An engine as old as 20.10 drops the source
// locations from the errors it returns, so they are looked up here.
type locator struct {
	mu       sync.Mutex
	frontend error
	defs     []*pb.Definition
	failed   []digest.Digest
}

// build is the gateway build function: the Dockerfile frontend, on a
// client that records what is solved and names unresolvable base images.
func (l *locator) build(ctx context.Context, c gateway.Client) (*gateway.Result, error) {
	res, err := builder.Build(ctx, &recordingClient{Client: c, l: l})
	if err != nil {
		l.mu.Lock()
		l.frontend = err
		l.mu.Unlock()
	}
	return res, err
}

// status notes the steps a status update reports failed.
func (l *locator) status(st *bkclient.SolveStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range st.Vertexes {
		if v.Error != "" && !strings.Contains(v.Error, "context canceled") {
			l.failed = append(l.failed, v.Digest)
		}
	}
}

// describe is err with the Dockerfile lines it happened on.
func (l *locator) describe(err error, ctx context.Context) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := describeBuildError(err, l.frontend, ctx)
	if ctx.Err() != nil {
		return msg
	}
	var where []string
	seen := map[string]bool{}
	add := func(filename string, data []byte, line int) {
		loc := fmt.Sprintf("%s:%d", filename, line)
		if lines := strings.Split(string(data), "\n"); line >= 1 && line <= len(lines) {
			loc += ": " + strings.TrimSpace(lines[line-1])
		}
		if !seen[loc] {
			seen[loc] = true
			where = append(where, loc)
		}
	}
	for _, s := range errdefs.Sources(l.frontend) {
		if s.Info != nil && len(s.Ranges) > 0 {
			add(s.Info.Filename, s.Info.Data, int(s.Ranges[0].Start.Line))
		}
	}
	for _, d := range l.failed {
		for _, def := range l.defs {
			if def.Source == nil {
				continue
			}
			locs := def.Source.Locations[d.String()]
			if locs == nil {
				continue
			}
			for _, loc := range locs.Locations {
				if int(loc.SourceIndex) < len(def.Source.Infos) && len(loc.Ranges) > 0 {
					info := def.Source.Infos[loc.SourceIndex]
					add(info.Filename, info.Data, int(loc.Ranges[0].Start.Line))
				}
			}
		}
	}
	if len(where) == 0 {
		return msg
	}
	return strings.Join(where, "; ") + ": " + msg
}

// recordingClient is the gateway client the frontend runs on.
type recordingClient struct {
	gateway.Client
	l *locator
}

func (c *recordingClient) Solve(ctx context.Context, req gateway.SolveRequest) (*gateway.Result, error) {
	if req.Definition != nil {
		c.l.mu.Lock()
		c.l.defs = append(c.l.defs, req.Definition)
		c.l.mu.Unlock()
	}
	return c.Client.Solve(ctx, req)
}

func (c *recordingClient) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	r, d, cfg, err := c.Client.ResolveImageConfig(ctx, ref, opt)
	if err != nil {
		err = fmt.Errorf("%s %s: %w", resolvePrefix, ref, err)
	}
	return r, d, cfg, err
}

func (c *recordingClient) ResolveSourceMetadata(ctx context.Context, op *pb.SourceOp, opt sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	res, err := c.Client.ResolveSourceMetadata(ctx, op, opt)
	if err != nil && op != nil {
		ref, _ := strings.CutPrefix(op.Identifier, "docker-image://")
		err = fmt.Errorf("%s %s: %w", resolvePrefix, ref, err)
	}
	return res, err
}

// resolvePrefix starts the error of a base image that cannot be resolved.
const resolvePrefix = "resolve base image"
