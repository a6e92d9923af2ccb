package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

// keepaliveEvery is how often an idle progress stream gets an empty line,
// so that proxies between the client and berth keep it open.
const keepaliveEvery = 15 * time.Second

// progressQueue holds a deployment's progress lines until its stream
// writes them. push never blocks and never drops a line while the stream
// is open: a slow client delays its own lines, never the deployment, and
// still gets every one. Once the stream is closed (its client went away),
// push forgets the lines.
type progressQueue struct {
	mu     sync.Mutex
	lines  []deploy.Progress
	closed bool
	// pushed: a line was ever pushed, so the answer is a stream (200).
	pushed bool
	ready  chan struct{} // holds a token while lines may be waiting
}

func newProgressQueue() *progressQueue {
	return &progressQueue{ready: make(chan struct{}, 1)}
}

// push queues p; it is the deployment's ProgressFunc.
func (q *progressQueue) push(p deploy.Progress) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.lines = append(q.lines, p)
	q.pushed = true
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns the lines queued so far, oldest first, and forgets them.
func (q *progressQueue) take() []deploy.Progress {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.lines
	q.lines = nil
	return out
}

func (q *progressQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.lines) == 0
}

// streamed reports whether a line was ever pushed: then the answer is
// a stream, whatever the outcome.
func (q *progressQueue) streamed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pushed
}

func (q *progressQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed, q.lines = true, nil
}

// outcome is how a streamed deployment ended.
type outcome struct {
	dep store.Deployment
	err error
}

// stream runs a deployment on the server's context and streams its
// progress to the client as dto.StreamEvent lines, then its result. An
// error before any progress (busy, nothing to roll back to) is an
// ordinary error response. A client that goes away stops watching, not
// the deployment, which still ends, is recorded and is notified.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, run func(context.Context, deploy.ProgressFunc) (store.Deployment, error)) error {
	q := newProgressQueue()
	defer q.close()
	done := make(chan outcome, 1)
	note := noteOf(r)
	note.hold() // the audit entry is written when the deployment ends
	ctx := s.ctx
	if p, ok := principalOf(r); ok {
		ctx = deploy.WithActor(ctx, p.name) // the release and deployment record who asked
	}
	go func() {
		dep, err := run(ctx, q.push)
		status := http.StatusOK // the outcome is the stream's last line
		if !q.streamed() && dep.ID == 0 && err != nil {
			status = statusOf(err) // the answer is this error (below)
		}
		note.settle(dep.ID, status, err)
		s.notifyDeployment(dep, err)
		done <- outcome{dep, err}
	}()

	var ended *outcome
	select {
	case <-q.ready:
	case o := <-done:
		if q.empty() && o.dep.ID == 0 && o.err != nil {
			return o.err
		}
		ended = &o // finished with progress queued: stream it all below
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	send := func(ev dto.StreamEvent) error {
		if err := enc.Encode(ev); err != nil {
			return err
		}
		return rc.Flush()
	}
	// flush sends the queued progress; false when the client is gone.
	flush := func() bool {
		for _, p := range q.take() {
			if send(dto.StreamEvent{Progress: ptr(&p, progressDTO)}) != nil {
				return false
			}
		}
		return true
	}
	finish := func(o outcome) error {
		if !flush() {
			return nil
		}
		res := &dto.Result{OK: o.err == nil}
		if o.dep.ID != 0 {
			res.Deployment = ptr(&o.dep, deploymentDTO)
		}
		if o.err != nil {
			res.Error = o.err.Error()
		}
		_ = send(dto.StreamEvent{Result: res})
		return nil
	}
	if ended != nil {
		return finish(*ended)
	}
	keepalive := time.NewTicker(keepaliveEvery)
	defer keepalive.Stop()
	for {
		if !flush() {
			return nil // the deployment goes on without its watcher
		}
		select {
		case <-q.ready:
		case o := <-done:
			return finish(o)
		case <-keepalive.C:
			if _, err := io.WriteString(w, "\n"); err != nil {
				return nil
			}
			_ = rc.Flush()
		case <-r.Context().Done():
			return nil // the deployment goes on without its watcher
		}
	}
}
