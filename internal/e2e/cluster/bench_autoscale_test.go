package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// TestBenchAutoscaleSwarm (make bench-autoscale, as root): the load step
// of TestBenchAutoscale on the 3-node swarm lab, from about 10 to 150
// requests per second and back, against a target of 20 per replica (min
// 1, max 6, window 5s, cooldown 15s). It prints the seconds from the
// step to the new tasks taking traffic, the failed requests during
// scale-out and scale-in, the nodes the tasks ran on, and the count over
// time. It fails only on failed requests.
func TestBenchAutoscaleSwarm(t *testing.T) {
	if os.Getenv("BERTH_BENCH") != "1" {
		t.Skip("benchmark: run with make bench-autoscale")
	}
	l, img := lab(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	activateAll(t, s)
	app := scaleCompose(t, name, host, img.Ref, 1,
		"      autoscale: { min: 1, max: 6, target: { rps: 20 }, scale_out_window: 5s, scale_in_cooldown: 15s }\n")
	if _, _, err := deploy(t, s, app); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	type point struct {
		at               time.Duration
		desired, healthy int
		phase            string
	}
	var points []point
	start := time.Now()
	phase := "low"
	most := map[string]int{}
	record := func() (int, int) {
		svc, nodes := webStatus(t, s, name)
		if len(nodes) > len(most) {
			most = nodes
		}
		d, h := svc.Replicas, svc.Healthy
		if n := len(points); n == 0 || points[n-1].desired != d || points[n-1].healthy != h || points[n-1].phase != phase {
			points = append(points, point{time.Since(start), d, h, phase})
		}
		return d, h
	}
	watch := func(until func(d, h int) bool, limit time.Duration) {
		for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
			if d, h := record(); until(d, h) {
				return
			}
			time.Sleep(250 * time.Millisecond) // sampling the count for the table
		}
		t.Errorf("phase %s: not reached within %s", phase, limit)
	}
	low := startPaced(s.addrs.HTTP, host, 1, 10)
	defer low.stop()
	watch(func(d, h int) bool { return time.Since(start) > 10*time.Second }, 15*time.Second)

	phase = "step"
	step := time.Now()
	high := startPaced(s.addrs.HTTP, host, 8, 140)
	var firstNew time.Duration
	watch(func(d, h int) bool {
		if h > 1 && firstNew == 0 {
			firstNew = time.Since(step)
		}
		return h >= 6
	}, 2*time.Minute)
	allNew := time.Since(step)
	watch(func(d, h int) bool { return time.Since(step) > allNew+10*time.Second }, 30*time.Second)
	high.stop()
	outFailed := high.failed.Load()

	phase = "calm"
	calm := time.Now()
	failedBefore := low.failed.Load()
	watch(func(d, h int) bool { return d == 1 && h == 1 }, 3*time.Minute)
	inTook := time.Since(calm)
	low.stop()
	inFailed := low.failed.Load() - failedBefore

	var b strings.Builder
	fmt.Fprintf(&b, "bench-autoscale: swarm lab (3 nodes), target 20 req/s per replica, min 1, max 6, window 5s, cooldown 15s\n")
	fmt.Fprintf(&b, "bench-autoscale: step 10 -> 150 req/s: first new task taking traffic after %.1fs, all 6 after %.1fs, on %v; %d of %d requests failed during scale-out\n",
		firstNew.Seconds(), allNew.Seconds(), most, outFailed, high.total.Load())
	fmt.Fprintf(&b, "bench-autoscale: back to 10 req/s: 1 task after %.1fs; %d of %d requests failed during scale-in\n", inTook.Seconds(), inFailed, low.total.Load())
	fmt.Fprintf(&b, "bench-autoscale: %8s  %-5s  %7s  %7s\n", "t", "load", "desired", "healthy")
	for _, p := range points {
		fmt.Fprintf(&b, "bench-autoscale: %7.1fs  %-5s  %7d  %7d\n", p.at.Seconds(), p.phase, p.desired, p.healthy)
	}
	fmt.Print(b.String())
	if outFailed+inFailed != 0 {
		t.Errorf("%d requests failed: %v %v", outFailed+inFailed, high.errs, low.errs)
	}
	evs, _ := s.client.Events(context.Background(), name, spec.DefaultEnv, 50)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == "autoscaled" {
			fmt.Printf("bench-autoscale: event %s\n", evs[i].Message)
		}
	}
}
