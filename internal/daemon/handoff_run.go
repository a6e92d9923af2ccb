package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

// idleCloseGrace is how long, after a hand-off, kept-alive clients of the
// plain listener have to send another request (answered with Connection:
// close) before their idle connections are closed.
const idleCloseGrace = time.Second

// errHandedOff ends Run's group once a successor serves.
var errHandedOff = errors.New("handed off")

// sockets are the server's listening sockets.
type sockets struct {
	http, https, api net.Listener
	apiGated         net.Listener  // api behind gate
	gate             *gateListener // nil: api cannot be paused
}

// openSockets opens (or inherits) the listeners of cfg's addresses.
func openSockets(cfg Config, https bool) (_ *sockets, err error) {
	in, err := inherit()
	if err != nil {
		return nil, err
	}
	s := &sockets{}
	defer func() {
		if err != nil {
			s.close()
			_ = in.leftover()
		}
	}()
	if s.http, err = in.listen("http", cfg.HTTPAddr); err != nil {
		return nil, err
	}
	if s.api, err = in.listen("api", cfg.APIAddr); err != nil {
		return nil, err
	}
	if https {
		if s.https, err = in.listen("https", cfg.HTTPSAddr); err != nil {
			return nil, err
		}
	}
	if err := in.leftover(); err != nil {
		return nil, err
	}
	s.apiGated, s.gate = newGateListener(s.api)
	return s, nil
}

// list names the sockets a successor gets.
func (s *sockets) list() []namedSocket {
	out := []namedSocket{{"http", s.http}, {"api", s.api}}
	if s.https != nil {
		out = append(out, namedSocket{"https", s.https})
	}
	return out
}

func (s *sockets) close() {
	for _, ln := range []net.Listener{s.http, s.https, s.api} {
		if ln != nil {
			ln.Close()
		}
	}
}

// apiHandler serves the API of the current core, counting the changes
// in flight (a hand-off waits for them); between two cores it answers
// 503 with what is going on.
type apiHandler struct {
	h        atomic.Pointer[http.Handler]
	changing atomic.Int64
}

func (a *apiHandler) set(h http.Handler) { a.h.Store(&h) }

func (a *apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !safeMethod(r.Method) {
		a.changing.Add(1)
		defer a.changing.Add(-1)
	}
	(*a.h.Load()).ServeHTTP(w, r)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// handingOff answers API requests that came on a kept-alive connection
// while the core is closed.
var handingOff http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":"berth server is handing off to a new process: retry in a second"}` + "\n"))
})

// handoffs are the hand-off requests of a server.
type handoffs struct {
	cmd      *Command
	timeout  time.Duration
	requests chan struct{}
	running  atomic.Bool
	lastErr  atomic.Pointer[string]
}

// failed keeps why the last hand-off failed, with when.
func (h *handoffs) failed(err error) {
	msg := time.Now().UTC().Format(time.RFC3339) + ": " + err.Error()
	h.lastErr.Store(&msg)
}

// lastError says why the last hand-off failed; "" when none did.
func (h *handoffs) lastError() string {
	if p := h.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

func newHandoffs(cfg Config) *handoffs {
	h := &handoffs{cmd: cfg.Successor, timeout: cfg.HandoffTimeout, requests: make(chan struct{}, 1)}
	if cfg.Restart != nil {
		go func() {
			for range cfg.Restart {
				_ = h.request()
			}
		}()
	}
	return h
}

// request asks for a hand-off; the error says why there will be none.
func (h *handoffs) request() error {
	if h.cmd == nil {
		return errors.New("this server cannot hand off: it runs inside another program, not as berth server")
	}
	if h.running.Load() {
		return errors.New("a hand-off is already under way")
	}
	select {
	case h.requests <- struct{}{}:
		return nil
	default:
		return errors.New("a hand-off is already under way")
	}
}

// handoffState is what a hand-off acts on.
type handoffState struct {
	cfg    Config
	fr     front
	core   *core
	api    *apiHandler
	apiSrv *http.Server
	gate   *gateListener
	socks  []namedSocket
	log    *slog.Logger
}

// run hands off: done when the successor serves (this process must
// stop); otherwise the core that serves on (a new one when the old was
// closed) and why the hand-off did not happen.
func (h *handoffs) run(ctx context.Context, s handoffState) (_ *core, done bool, err error) {
	h.running.Store(true)
	defer h.running.Store(false)
	log := s.log.With("component", "handoff")
	if s.gate == nil {
		return s.core, false, errors.New("the API's listener cannot be paused")
	}
	start := time.Now()
	log.Info("hand-off: pausing the API; waiting for changes, deployments, drains and builds in flight")
	_ = sdNotify("RELOADING=1\nSTATUS=handing off to a new process")
	s.gate.pause()
	s.apiSrv.SetKeepAlivesEnabled(false)
	resume := func() {
		s.apiSrv.SetKeepAlivesEnabled(true)
		s.gate.resume()
		_ = sdNotify("READY=1\nSTATUS=serving (a hand-off failed)")
	}
	ictx, cancel := context.WithTimeout(ctx, h.timeout)
	err = waitIdle(ictx, func() string {
		if n := s.api.changing.Load(); n > 0 {
			return fmt.Sprintf("%d API change(s) in flight", n)
		}
		return s.core.busy()
	})
	cancel()
	if err != nil {
		resume()
		return s.core, false, fmt.Errorf("%w within %s (--handoff-timeout): try again once it is done", err, h.timeout)
	}
	s.api.set(handingOff)
	s.core.close()
	log.Info("hand-off: store released; starting the new process", "waited", time.Since(start).Round(time.Millisecond))

	succ, err := startSuccessor(h.cmd.Path, h.cmd.Args, s.socks, h.timeout, log)
	if err == nil {
		select {
		case err = <-succ.ready:
		case <-ctx.Done():
			_ = succ.cmd.Process.Kill()
			err = ctx.Err()
		}
	}
	if err == nil {
		log.Info("hand-off: the new process is ready; this one finishes its requests and stops",
			"pid", succ.cmd.Process.Pid, "took", time.Since(start).Round(time.Millisecond))
		return nil, true, nil
	}
	// The successor failed: serve on with a core of our own again.
	c := reopenCore(ctx, s, s.log)
	if c == nil {
		return nil, false, errors.Join(err, ctx.Err())
	}
	s.api.set(c.api)
	resume()
	return c, false, err
}

// reopenCore opens the core again after a failed hand-off, retrying
// until it opens or ctx ends (nil then).
func reopenCore(ctx context.Context, s handoffState, log *slog.Logger) *core {
	for {
		c, err := openCore(ctx, s.cfg, s.fr, log)
		if err == nil {
			return c
		}
		log.Error("hand-off failed and the store cannot be opened again: retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// drainRoutes waits until the requests, streams and upgraded connections
// of every route end, each at most its own drain timeout (and until
// ctx's deadline), then cuts them: WebSockets with close frames, event
// streams between two events.
func drainRoutes(ctx context.Context, px *proxy.Proxy) {
	left := proxy.DefaultDrainTimeout
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	var wg sync.WaitGroup
	for _, r := range px.Routes() {
		timeout := min(px.DrainTimeoutOf(r.Key), left) // each route's own drain_timeout
		for _, p := range []*proxy.Pool{r.Pool, r.Canary} {
			if p == nil || p.InFlight() == 0 {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.Drain(ctx, timeout) }()
		}
	}
	wg.Wait()
}

// longestDrain is the longest drain timeout of px's routes (at least
// minimum): how long a process that handed off waits for them.
func longestDrain(px *proxy.Proxy, minimum time.Duration) time.Duration {
	out := minimum
	for _, r := range px.Routes() {
		out = max(out, px.DrainTimeoutOf(r.Key))
	}
	return out
}
