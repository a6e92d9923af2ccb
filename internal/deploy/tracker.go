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
	// id is the deployment's, once it is recorded (setID); wake is
	// closed at the next line, for watchers (since).
	id   int64
	wake chan struct{}
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
	id, wake := t.id, t.wake
	t.wake = nil
	t.mu.Unlock()
	if wake != nil {
		close(wake)
	}
	if t.fn != nil {
		t.fn(Progress{Time: at, Elapsed: el, Message: msg, Deployment: id})
	}
}

// setID records the deployment's id: the lines from now on carry it.
func (t *tracker) setID(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.id = id
}

// since returns the lines from the n-th on, and a channel closed at
// the next line.
func (t *tracker) since(n int) ([]Progress, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wake == nil {
		t.wake = make(chan struct{})
	}
	return stepsProgress(t.steps, n, t.id), t.wake
}

// stepsProgress is steps[n:] as progress lines of deployment id.
func stepsProgress(steps []store.Step, n int, id int64) []Progress {
	if n < 0 {
		n = 0
	}
	var out []Progress
	for i := n; i < len(steps); i++ {
		st := steps[i]
		out = append(out, Progress{Time: st.At, Elapsed: time.Duration(st.Elapsed), Message: st.Message, Deployment: id})
	}
	return out
}

func (t *tracker) timeline() []store.Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]store.Step(nil), t.steps...)
}

func (t *tracker) elapsed() time.Duration { return t.now().Sub(t.start) }
