package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// pacedLoad sends GETs through the proxy from n clients at rate
// requests per second in all, until stopped.
type pacedLoad struct {
	total, failed atomic.Int64
	mu            sync.Mutex
	errs          []string
	cancel        context.CancelFunc
	wg            sync.WaitGroup
}

func startPaced(proxyAddr, host string, n, rate int) *pacedLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &pacedLoad{cancel: cancel}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			tick := time.NewTicker(time.Duration(n) * time.Second / time.Duration(rate))
			defer tick.Stop()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+proxyAddr+"/", nil)
				req.Host = host
				resp, err := c.Do(req)
				if ctx.Err() != nil {
					return
				}
				l.total.Add(1)
				if err != nil {
					l.fail(err.Error())
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						l.fail(fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b))))
					}
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
				}
			}
		}()
	}
	return l
}

func (l *pacedLoad) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, msg)
	}
	l.mu.Unlock()
}

func (l *pacedLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

// x-berth.autoscale on --engine swarm: a load step from about 10 to 120
// requests per second (target 20 per replica) scales the Swarm service
// out to max within its window, over more than one node, then back to
// min after the cooldowns; no request fails throughout.
func TestSwarm_AutoscaleFollowsALoadStep(t *testing.T) {
	l, img := lab(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	activateAll(t, s)
	app := scaleCompose(t, name, host, img.Ref, 1,
		"      autoscale: { min: 1, max: 4, target: { rps: 20 }, scale_out_window: 4s, scale_in_cooldown: 12s }\n")
	if _, _, err := deploy(t, s, app); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	low := startPaced(s.addrs.HTTP, host, 1, 10)
	defer low.stop()
	testutil.Eventually(t, 10*time.Second, "load flowing", func() bool { return low.total.Load() > 20 })
	if svc, _ := webStatus(t, s, name); svc.Replicas != 1 {
		t.Fatalf("at 10 req/s: %d replicas, want 1", svc.Replicas)
	}

	step := time.Now()
	high := startPaced(s.addrs.HTTP, host, 6, 110)
	var nodes map[string]int
	testutil.Eventually(t, 90*time.Second, "scaled out to 4 healthy tasks", func() bool {
		var svc dto.ServiceStatus
		svc, nodes = webStatus(t, s, name)
		return svc.Replicas == 4 && svc.Healthy == 4
	})
	out := time.Since(step)
	high.stop()
	bench(t, "autoscale on the swarm lab, load step 10 → 120 req/s: 4 tasks healthy %s after the step (window 4s), on %v", out.Round(time.Millisecond), nodes)
	if len(nodes) < 2 {
		t.Errorf("the 4 tasks run on %v; want more than one node", nodes)
	}

	calm := time.Now()
	var seen []int
	testutil.Eventually(t, 3*time.Minute, "scaled back in to 1", func() bool {
		svc, _ := webStatus(t, s, name)
		if len(seen) == 0 || seen[len(seen)-1] != svc.Replicas {
			seen = append(seen, svc.Replicas)
		}
		return svc.Replicas == 1
	})
	bench(t, "  back at 10 req/s: counts %v, 1 task %s after the load fell (cooldown 12s)", seen, time.Since(calm).Round(time.Millisecond))
	low.stop()
	if f := low.failed.Load() + high.failed.Load(); f != 0 {
		t.Errorf("%d requests failed: %v %v", f, low.errs, high.errs)
	}
	bench(t, "  requests: %d at low load, %d at high, %d failed", low.total.Load(), high.total.Load(), low.failed.Load()+high.failed.Load())

	evs, err := s.client.Events(context.Background(), name, spec.DefaultEnv, 50)
	if err != nil {
		t.Fatal(err)
	}
	var why []string
	for _, e := range evs {
		if e.Kind == "autoscaled" {
			why = append(why, e.Message)
		}
	}
	if len(why) < 2 || !strings.Contains(strings.Join(why, "\n"), "load above the target for 4s") {
		t.Errorf("autoscaled events: %q", why)
	}
}
