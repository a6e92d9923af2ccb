package swarm_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/swarm"
	"github.com/berth-dev/berth/internal/proxy"
)

// follower keeps a berth proxy route's pool equal to a workload's serving
// instances, as deploy will on Swarm: it polls ListInstances, and on
// every change builds a new pool of the instances that are running and
// wanted running (an instance being replaced, scaled in or drained leaves
// at the first poll that shows it), waits for its health checks, swaps it
// in and drains the old one. It also logs each instance's transitions:
// the rollout followed task by task.
type follower struct {
	t      *testing.T
	b      *swarm.Backend
	labels map[string]string
	px     *proxy.Proxy
	key    proxy.RouteKey
	hosts  []string

	mu      sync.Mutex
	targets []proxy.Target // of the routed pool
	swaps   int
	seen    map[string]string // instance ID → its last described state

	cancel context.CancelFunc
	done   chan struct{}
	drains sync.WaitGroup
}

const pollEvery = 50 * time.Millisecond

func follow(t *testing.T, b *swarm.Backend, labels map[string]string, host string) *follower {
	f := &follower{t: t, b: b, labels: labels, px: proxy.New(proxy.Options{Logger: quietLogger()}),
		key:   proxy.RouteKey{App: labels[engine.LabelApp], Env: labels[engine.LabelEnv], Service: labels[engine.LabelService]},
		hosts: []string{host}, seen: map[string]string{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go f.run(ctx)
	t.Cleanup(f.stop)
	return f
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (f *follower) stop() {
	f.cancel()
	<-f.done
	if p, _ := f.px.Route(f.key); p != nil {
		f.px.RemoveRoute(f.key)
		p.Close()
	}
	f.drains.Wait()
}

func (f *follower) run(ctx context.Context) {
	defer close(f.done)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var current string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ins, err := f.b.ListInstances(ctx, f.labels)
		if err != nil {
			continue // a manager restarting; the next poll retries
		}
		f.logTransitions(ins)
		var targets []proxy.Target
		for _, in := range ins {
			if in.Serving() {
				targets = append(targets, proxy.Target{ID: in.ID, Name: fmt.Sprintf("%s.%d@%s", in.Labels[engine.LabelRelease], in.Slot, in.Node), Addr: in.Addr})
			}
		}
		slices.SortFunc(targets, func(a, b proxy.Target) int { return strings.Compare(a.Addr, b.Addr) })
		var k strings.Builder
		for _, tg := range targets {
			k.WriteString(tg.ID + "=" + tg.Addr + " ")
		}
		if k.String() == current || len(targets) == 0 {
			continue
		}
		pool := proxy.NewPool(f.key, "swarm", targets, proxy.HealthConfig{Path: "/up", Interval: 250 * time.Millisecond, Timeout: time.Second}, quietLogger())
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_ = pool.WaitHealthy(wctx, len(targets))
		cancel()
		if pool.Healthy() == 0 {
			pool.Close()
			continue
		}
		old, err := f.px.SetRoute(f.key, f.hosts, pool)
		if err != nil {
			pool.Close()
			f.t.Errorf("set route: %v", err)
			continue
		}
		current = k.String()
		f.mu.Lock()
		f.targets, f.swaps = targets, f.swaps+1
		f.mu.Unlock()
		if old != nil {
			f.drains.Add(1)
			go func() {
				defer f.drains.Done()
				old.Drain(context.Background(), 10*time.Second)
			}()
		}
	}
}

// logTransitions logs each instance whose state changed since the last
// poll: "slot 3 on node2 (release 2): created→running".
func (f *follower) logTransitions(ins []engine.Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range ins {
		d := fmt.Sprintf("%s/%s", in.State, in.Desired)
		if in.Error != "" {
			d += " (" + in.Error + ")"
		}
		if prev, ok := f.seen[in.ID]; !ok || prev != d {
			f.t.Logf("  task %.8s slot %d on %s, release %s: %s", in.ID, in.Slot, in.Node, in.Labels[engine.LabelRelease], d)
			f.seen[in.ID] = d
		}
	}
}

// routed returns the targets of the pool in the route.
func (f *follower) routed() []proxy.Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.targets)
}

// loadGen sends GETs through the proxy from several workers and counts
// what failed: a transport error or any status but 200.
type loadGen struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	bodies     map[string]int
	samples    []string
	slowest    atomic.Int64 // nanoseconds
	stop       chan struct{}
	wg         sync.WaitGroup
}

func (l *loadGen) observe(d time.Duration) {
	for {
		cur := l.slowest.Load()
		if int64(d) <= cur || l.slowest.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// takeSlowest returns the slowest request since the last call.
func (l *loadGen) takeSlowest() time.Duration { return time.Duration(l.slowest.Swap(0)) }

func startLoad(t *testing.T, handler http.Handler, host string, workers int) *loadGen {
	srv := httptest.NewServer(handler) // node1's loopback
	t.Cleanup(srv.Close)
	l := &loadGen{bodies: map[string]int{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
				req.Host = host
				start := time.Now()
				resp, err := client.Do(req)
				l.observe(time.Since(start))
				if err != nil {
					l.fail(err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					l.fail(fmt.Sprintf("%s: %.80s", resp.Status, b))
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				l.bodies[string(b)]++
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

func (l *loadGen) fail(why string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.samples) < 10 {
		l.samples = append(l.samples, time.Now().Format("15:04:05.000")+" "+why)
	}
	l.mu.Unlock()
}

func (l *loadGen) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// tally is a snapshot of the load's counters.
type tally struct{ ok, failed int64 }

func (l *loadGen) tally() tally { return tally{l.ok.Load(), l.failed.Load()} }

func (l *loadGen) since(t0 tally) tally {
	n := l.tally()
	return tally{n.ok - t0.ok, n.failed - t0.failed}
}

// served returns how many answers had body b.
func (l *loadGen) served(b string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies[b]
}

func (l *loadGen) failures() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.samples, "\n")
}
