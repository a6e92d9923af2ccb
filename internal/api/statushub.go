package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// statusHub looks at every app environment once for all the status
// streams open (not once per stream): when the store says a write
// committed and every statusRefresh, while at least one stream is open.
// Each stream filters the latest look by its own principal's scope, so
// a hundred open pages cost one look, not a hundred.
type statusHub struct {
	s *Server

	mu      sync.Mutex
	subs    int
	running bool
	latest  *statusLook
	ready   chan struct{} // closed when a newer look than latest is there
}

// statusLook is one look at every app environment.
type statusLook struct {
	envs []lookedEnv
	err  error
}

type lookedEnv struct {
	st     dto.EnvStatus
	active bool // not removed: listed without ?all
}

// subscribe counts a stream in (starting the looks if it is the first)
// and returns its unsubscribe.
func (h *statusHub) subscribe() func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs++
	if h.ready == nil {
		h.ready = make(chan struct{})
	}
	if !h.running {
		h.running = true
		go h.run()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.subs--
			h.mu.Unlock()
		})
	}
}

// current is the latest look (nil before the first) and a channel
// closed when a newer one is there.
func (h *statusHub) current() (*statusLook, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest, h.ready
}

// run looks until no stream is left, or the server's context ends: the
// hub's one goroutine, owned by the streams (the first starts it, it
// ends a look after the last has gone).
func (h *statusHub) run() {
	refresh := time.NewTicker(statusRefresh)
	defer refresh.Stop()
	for {
		changed := h.s.store.Changed() // before the look: a change during it is not missed
		look := h.look()
		h.mu.Lock()
		h.latest = look
		close(h.ready)
		h.ready = make(chan struct{})
		if h.subs == 0 || h.s.ctx.Err() != nil {
			h.running = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		select {
		case <-h.s.ctx.Done():
		case <-changed:
			select { // the writes that come with it
			case <-time.After(coalesceChanges):
			case <-h.s.ctx.Done():
			}
		case <-refresh.C:
		}
	}
}

// look reads the status of every app environment, removed ones too.
func (h *statusHub) look() *statusLook {
	envs, err := h.s.lookStatus(h.s.ctx, func(string, string, bool) bool { return true })
	return &statusLook{envs: envs, err: err}
}

// visibleTo is the look as GET /api/v1/status would answer it to the
// principal of r's context (removed environments with all).
func (l *statusLook) visibleTo(r *http.Request, all bool) []dto.EnvStatus {
	out := []dto.EnvStatus{}
	for _, e := range l.envs {
		if (all || e.active) && visible(r, e.st.App, e.st.Env) {
			out = append(out, e.st)
		}
	}
	return out
}
