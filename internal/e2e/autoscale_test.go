package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// replicasOf is the count app's web service runs now (the file's or a
// scale's) and how many are healthy.
func replicasOf(t *testing.T, s *server, app string) (desired, healthy int) {
	t.Helper()
	st, err := s.client.Status(context.Background(), app, spec.DefaultEnv)
	if err != nil || len(st.Services) == 0 {
		return 0, 0
	}
	return st.Services[0].Replicas, st.Services[0].Healthy
}

// TestAutoscale_FollowsALoadStepWithoutFailures: a real app under a
// load step from about 10 to 120 requests per second (target 20 per
// replica) scales out to max within its window, serves every request,
// then falls back to min after the cooldowns, by half at each step.
func TestAutoscale_FollowsALoadStepWithoutFailures(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	app := loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1, Drain: "2s", StopGrace: "1s",
		Autoscale: "{ min: 1, max: 4, target: { rps: 20 }, scale_out_window: 4s, scale_in_cooldown: 12s }"})
	if _, err := s.deploy(t, app); err != nil {
		t.Fatal(err)
	}
	low := startPacedLoad(s.addrs.HTTP, host, 1, 10)
	defer low.stop()
	testutil.Eventually(t, 10*time.Second, "load flowing", func() bool { return low.total.Load() > 20 })
	if d, _ := replicasOf(t, s, name); d != 1 {
		t.Fatalf("at 10 req/s: %d replicas, want 1", d)
	}

	step := time.Now()
	high := startPacedLoad(s.addrs.HTTP, host, 6, 110)
	testutil.Eventually(t, 60*time.Second, "scaled out to 4 healthy replicas", func() bool {
		d, h := replicasOf(t, s, name)
		return d == 4 && h == 4
	})
	out := time.Since(step)
	high.stop()
	t.Logf("load step 10 → 120 req/s: 4 replicas healthy %s after the step (window 4s)", out.Round(time.Millisecond))

	calm := time.Now()
	var seen []int
	testutil.Eventually(t, 2*time.Minute, "scaled back in to 1", func() bool {
		d, _ := replicasOf(t, s, name)
		if len(seen) == 0 || seen[len(seen)-1] != d {
			seen = append(seen, d)
		}
		return d == 1
	})
	t.Logf("back at 10 req/s: counts %v, 1 replica %s after the load fell (cooldown 12s)", seen, time.Since(calm).Round(time.Millisecond))
	if len(seen) < 3 || seen[1] != 2 {
		t.Errorf("scale-in went %v, want 4 → 2 → 1 (half at a time)", seen)
	}
	low.stop()
	if f := low.failed.Load() + high.failed.Load(); f != 0 {
		t.Errorf("%d requests failed: %s / %s", f, low.summary(), high.summary())
	}
	t.Logf("requests: %d at low load, %d at high, 0 failed", low.total.Load(), high.total.Load())

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
	if len(why) < 3 || !strings.Contains(strings.Join(why, "\n"), "load above the target for 4s") {
		t.Errorf("autoscaled events: %q", why)
	}
}

// TestAutoscale_ScheduleFiresOnTheRealClock: a schedule set for the next
// minute (UTC) raises the count to its replicas when it fires; until
// then the one that fired a minute ago holds it at 1.
func TestAutoscale_ScheduleFiresOnTheRealClock(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	now := time.Now().UTC()
	if now.Second() > 50 {
		now = now.Add(10 * time.Second) // not on the edge of the minute the schedule is written for
	}
	next, prev := now.Truncate(time.Minute).Add(time.Minute), now.Truncate(time.Minute).Add(-time.Minute)
	cron := func(at time.Time) string { return fmt.Sprintf("%d %d * * *", at.Minute(), at.Hour()) }
	app := loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1, Drain: "2s", StopGrace: "1s",
		Autoscale: fmt.Sprintf("{ min: 1, max: 3, target: { rps: 1000 }, schedules: [ { cron: %q, min: 1, max: 1 }, { cron: %q, min: 3, max: 3, replicas: 3 } ] }", cron(prev), cron(next))})
	if _, err := s.deploy(t, app); err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(next.Add(-2 * time.Second)) {
		if d, _ := replicasOf(t, s, name); d != 1 {
			t.Fatalf("before %s: %d replicas, want 1 (the schedule of %s holds)", next.Format(time.TimeOnly), d, prev.Format(time.TimeOnly))
		}
		time.Sleep(500 * time.Millisecond) // watching that nothing changes until the firing time
	}
	testutil.Eventually(t, 40*time.Second, "3 healthy replicas after the schedule fired", func() bool {
		d, h := replicasOf(t, s, name)
		return d == 3 && h == 3
	})
	t.Logf("the schedule of %s: 3 replicas healthy %s after it fired", next.Format(time.TimeOnly), time.Since(next).Round(time.Millisecond))
	waitAutoscaledEvent(t, s, name, "for the schedule", func(msg string) bool { return strings.Contains(msg, "the schedule of") })
}

// waitAutoscaledEvent waits for app's autoscaled event whose message
// matches: the loop records it once its scale returned, which may be a
// moment after status shows the new replicas healthy.
func waitAutoscaledEvent(t *testing.T, s *server, app, what string, match func(string) bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "an autoscaled event "+what, func() bool {
		evs, err := s.client.Events(context.Background(), app, spec.DefaultEnv, 20)
		if err != nil {
			return false
		}
		for _, e := range evs {
			if e.Kind == "autoscaled" && match(e.Message) {
				return true
			}
		}
		return false
	})
}

// TestAutoscale_ScalesOnCPU: replicas limited to a quarter of a core,
// kept busy by requests that spin the CPU, use all of it against a 50%
// target: the service scales out on the engine's CPU statistics.
func TestAutoscale_ScalesOnCPU(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	app := loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1, Drain: "2s", StopGrace: "1s", CPUs: "0.25",
		Autoscale: "{ min: 1, max: 3, target: { cpu: 50% }, scale_out_window: 4s, scale_in_cooldown: 10m }"})
	if _, err := s.deploy(t, app); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 2 {
		go func() {
			c := &http.Client{Timeout: 10 * time.Second}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addrs.HTTP+"/burn?ms=200", nil)
				req.Host = host
				if resp, err := c.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	start := time.Now()
	testutil.Eventually(t, 60*time.Second, "scaled out on CPU", func() bool {
		d, h := replicasOf(t, s, name)
		return d >= 2 && h >= 2
	})
	t.Logf("CPU at the limit (0.25 core): scaled out %s after the load began", time.Since(start).Round(time.Millisecond))
	waitAutoscaledEvent(t, s, name, "naming the CPU", func(msg string) bool {
		return strings.Contains(msg, "CPU") && strings.Contains(msg, "(target 50%)")
	})
}
