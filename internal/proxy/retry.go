package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/berth-dev/berth/internal/proxy/upstream"
)

// Retries. A request is sent again only when no byte of a response
// reached the client, and only when sending it again cannot do harm:
//
//   - A connection to a target that could not be opened (nothing was
//     sent): any method, on another healthy target.
//   - A reused keep-alive connection that broke before any response byte
//     (the target closed it as idle just as the request went out): on a
//     fresh connection to the same target, for the methods net/http's
//     Transport replays (replayable: GET, HEAD, OPTIONS, TRACE, or a
//     request with an Idempotency-Key). The target is not at fault.
//   - A target that failed after the request was sent and before any
//     response byte (reset, closed, no response head within the route's
//     response timeout, or cut because it left rotation as unreachable):
//     on another healthy target, only for the safe methods of RFC 9110
//     9.2.1 (GET, HEAD, OPTIONS, TRACE) without a body and without
//     Upgrade (retrySafe). PUT and DELETE are idempotent but not safe:
//     the first attempt may have acted, and a second answer (a 404 after
//     a DELETE that worked) would misinform the client; they, POST and
//     PATCH get a 502 (504 after a timeout) and are never sent twice.
//
// A request tries at most maxRetries other targets. Every failure of a
// target counts as a failed health check of it, so a dying target leaves
// rotation after UnhealthyThreshold failures whichever finds them first.

// errTargetDown is the error of a request cut because its target left
// rotation as unreachable while the request waited for a response head.
// (upstream.ErrCut on the fast path, the same error on the ReverseProxy
// path).
var errTargetDown = upstream.ErrCut

// retrySafe reports whether r may be sent to another target after its
// target failed once r was sent (see above).
func retrySafe(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	if r.Body != nil && r.Body != http.NoBody {
		return false
	}
	_, up := r.Header["Upgrade"]
	return !up
}

// retryLoop runs try, one exchange of a request on a connection to *tp,
// and runs it again after a failure as the rules above say: on a fresh
// connection to the same target after a stale reused one (try reports
// stale), on another healthy target (safe: the request may be sent twice)
// otherwise. try returns an error only when nothing of a response reached
// the client. *tp follows the target tried last, and its in-flight count
// moves with it (also when try panics to abort a response under way).
// retryLoop returns that target with the last failure (nil when a try
// answered), or aborted when the client went away before any response.
// first, when not nil, is the connection of the first try, to *tp: the
// event loop sent the request on it already.
func (p *Pool) retryLoop(ctx context.Context, fc *upstream.Client, tp **target, safe bool, first *upstream.Conn, try func(c *upstream.Conn, t *target) (stale bool, err error)) (last *target, err error, aborted bool) {
	t := *tp
	var tried [maxRetries + 1]*target
	tried[0] = t
	ntried := 1
	fresh := false // after a stale reused connection: dial a new one
	for {
		var c *upstream.Conn
		if first != nil {
			c, first = first, nil
		} else if fresh {
			c, err = fc.Dial(ctx, t.idx)
		} else {
			c, err = fc.Get(ctx, t.idx)
		}
		if err == nil {
			var stale bool
			if stale, err = try(c, t); err == nil {
				return t, nil, false
			}
			if stale {
				fresh = true
				p.stats.retries[retryFresh].Add(1)
				continue
			}
		}
		// Nothing of a response reached the client.
		if ctx.Err() != nil {
			return t, nil, true
		}
		p.noteFailure(t, err)
		var next *target
		if ntried <= maxRetries && p.reqCtx.Err() == nil && !errors.Is(err, errMalformed) &&
			!errors.Is(err, upstream.ErrClosed) && (safe || isDialError(err)) {
			next = p.pickOther(tried[:ntried])
		}
		if next == nil {
			return t, err, false
		}
		p.log.Debug("retrying on another target", "target", t.Name, "next", next.Name, "error", err)
		p.stats.retries[retryOther].Add(1)
		t.inflight.Add(-1)
		next.inflight.Add(1)
		t = next
		*tp = t
		tried[ntried] = next
		ntried++
		fresh = false
	}
}

// Phases of a request on the ReverseProxy path (reqState), for
// cutWaiting: the fast path's (upstream.Conn) phases.
const (
	phaseIdle    = upstream.PhaseIdle
	phaseWaiting = upstream.PhaseWaiting // request written (or being written), no response byte yet
	phaseAnswer  = upstream.PhaseAnswer  // the response started: never cut, never retried
	phaseCut     = upstream.PhaseCut     // cut by cutWaiting while waiting
)

// reach is a target's "left rotation as unreachable" signal for requests
// on the ReverseProxy path: cutWaiting cancels ctx and installs a new one.
type reach struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// errResponseTimeout is a target's failure to start its response within
// the route's response timeout, on the ReverseProxy path.
var errResponseTimeout = fmt.Errorf("no response within the route's response timeout: %w", context.DeadlineExceeded)

func newReach() *reach {
	ctx, cancel := context.WithCancel(context.Background())
	return &reach{ctx: ctx, cancel: cancel}
}

// cutWaiting ends the requests waiting on t for a response head, and
// closes t's idle connections, once t is out of rotation as unreachable:
// safe requests are retried on another target, the others answered 502.
// Requests whose response started are left alone.
func (p *Pool) cutWaiting(t *target) {
	if n := p.fastClientOf().CutWaiting(t.idx); n > 0 {
		p.log.Info("cut requests waiting on an unreachable target", "target", t.Name, "addr", t.Addr, "requests", n)
	}
	if old := t.reach.Swap(newReach()); old != nil {
		old.cancel()
	}
}

// recordRequestFailure counts err, a failure of a request's exchange with
// t before any response byte, as an upstream error and a failed health
// check of t. A cut (errTargetDown) is not counted again: the failed
// checks that made it are.
func (p *Pool) recordRequestFailure(t *target, err error) {
	if errors.Is(err, errTargetDown) || p.reqCtx.Err() != nil {
		return
	}
	t.countUpstream(err)
	what := "request failed: "
	if isDialError(err) {
		what = "connection failed: "
	}
	p.health.fail(t, what+p.health.describe(err), true)
}
