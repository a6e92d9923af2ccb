package deploy

import (
	"fmt"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// tracker timestamps progress, forwards it to the caller and keeps it as
// the deployment's timeline.
type tracker struct {
	start time.Time
	now   func() time.Time
	fn    ProgressFunc

	mu    sync.Mutex
	steps []store.Step
}

func newTracker(now func() time.Time, fn ProgressFunc) *tracker {
	return &tracker{start: now(), now: now, fn: fn}
}

func (t *tracker) say(format string, args ...any) {
	at := t.now()
	msg := fmt.Sprintf(format, args...)
	el := at.Sub(t.start)
	t.mu.Lock()
	t.steps = append(t.steps, store.Step{At: at, Elapsed: spec.Duration(el), Message: msg})
	t.mu.Unlock()
	if t.fn != nil {
		t.fn(Progress{Time: at, Elapsed: el, Message: msg})
	}
}

func (t *tracker) timeline() []store.Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]store.Step(nil), t.steps...)
}

func (t *tracker) elapsed() time.Duration { return t.now().Sub(t.start) }
