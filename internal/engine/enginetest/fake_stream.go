package enginetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// Logs returns the lines appended with AppendLog; with Follow the reader
// stays open until ctx ends or the container stops running.
func (f *Fake) Logs(ctx context.Context, id string, o engine.LogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("Logs"); err != nil {
		return nil, err
	}
	c, err := f.mustLocked("logs of", id)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	lines := c.logs
	if o.Tail > 0 && len(lines) > o.Tail {
		lines = lines[len(lines)-o.Tail:]
	}
	for _, l := range lines {
		if !o.Since.IsZero() && l.t.Before(o.Since) {
			continue
		}
		if o.Timestamps {
			buf.WriteString(l.t.UTC().Format(time.RFC3339Nano) + " ")
		}
		buf.WriteString(l.text)
	}
	if !o.Follow {
		return io.NopCloser(&buf), nil
	}
	return f.follow(ctx, c, len(c.logs), buf.Bytes(), o.Timestamps), nil
}

// follow streams c's log lines from index next on (after first) until ctx
// ends, the reader is closed, or the container is not running.
func (f *Fake) follow(ctx context.Context, c *fakeContainer, next int, first []byte, stamps bool) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		defer cancel()
		if len(first) > 0 {
			if _, err := pw.Write(first); err != nil {
				return
			}
		}
		for {
			f.mu.Lock()
			var chunk bytes.Buffer
			for ; next < len(c.logs); next++ {
				if stamps {
					chunk.WriteString(c.logs[next].t.UTC().Format(time.RFC3339Nano) + " ")
				}
				chunk.WriteString(c.logs[next].text)
			}
			running := c.c.State == engine.StateRunning || c.c.State == engine.StateCreated
			_, exists := f.containers[c.c.ID]
			changed := f.changed
			f.mu.Unlock()
			if chunk.Len() > 0 {
				if _, err := pw.Write(chunk.Bytes()); err != nil {
					return
				}
			}
			if !running || !exists {
				pw.Close()
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			}
		}
	}()
	return &followReader{PipeReader: pr, cancel: cancel}
}

type followReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (r *followReader) Close() error {
	r.cancel()
	return r.PipeReader.Close()
}

// Attach gives the container's output from now on and records what is
// written to its standard input (Stdin).
func (f *Fake) Attach(ctx context.Context, id string) (engine.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("Attach"); err != nil {
		return nil, err
	}
	c, err := f.mustLocked("attach to", id)
	if err != nil {
		return nil, err
	}
	return &fakeAttachment{f: f, c: c, ReadCloser: f.follow(ctx, c, len(c.logs), nil, false)}, nil
}

type fakeAttachment struct {
	io.ReadCloser
	f      *Fake
	c      *fakeContainer
	mu     sync.Mutex
	closed bool
}

func (a *fakeAttachment) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0, errors.New("fake: write to closed standard input")
	}
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	return a.c.stdin.Write(p)
}

func (a *fakeAttachment) CloseWrite() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	return nil
}

// emitLocked queues an event for every watcher, as Docker's events carry
// the container's labels plus name and image.
func (f *Fake) emitLocked(c *fakeContainer, t engine.EventType, exitCode int) {
	attrs := maps.Clone(c.c.Labels)
	attrs["name"] = c.c.Name
	attrs["image"] = c.c.Image
	if t == engine.EventDie {
		attrs["exitCode"] = strconv.Itoa(exitCode)
	}
	ev := engine.Event{Type: t, ContainerID: c.c.ID, Labels: attrs, ExitCode: exitCode, Time: f.now()}
	for s := range f.subs {
		s.push(ev)
	}
}

// fakeSub is one Watch: an unbounded queue drained by its goroutine, so
// emitting never blocks on a slow watcher and no event is dropped.
type fakeSub struct {
	mu   sync.Mutex
	q    []engine.Event
	wake chan struct{}
}

func (s *fakeSub) push(ev engine.Event) {
	s.mu.Lock()
	s.q = append(s.q, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Watch streams the fake's container events until ctx ends. It never
// sends EventResync: the fake's stream does not break.
func (f *Fake) Watch(ctx context.Context) <-chan engine.Event {
	s := &fakeSub{wake: make(chan struct{}, 1)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	out := make(chan engine.Event, 16)
	go func() {
		defer close(out)
		defer func() {
			f.mu.Lock()
			delete(f.subs, s)
			f.mu.Unlock()
		}()
		for {
			s.mu.Lock()
			q := s.q
			s.q = nil
			s.mu.Unlock()
			for _, ev := range q {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-s.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
