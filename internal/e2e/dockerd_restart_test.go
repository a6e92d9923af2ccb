package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// bench-restart (d): berth under load while the Docker engine under it
// restarts. It runs against the engine of scripts/dockerd-lab (its own
// dockerd in its own network namespace, so restarting it touches nothing
// else on the machine): make bench-restart runs it in the lab, once with
// live-restore and once without, with BERTH_DOCKERD_LAB naming the lab's
// script and BERTH_DOCKERD_LAB_MODE saying which.
//
// With live-restore the containers keep running while dockerd is down and
// nothing may fail. Without it the engine stops them and starts them again
// (restart policy); berth must then find them again by itself: the event
// stream reconnects, it resyncs, re-checks the restarted containers'
// health and routes to their new addresses, and the app serves again with
// nobody acting. In both cases a deploy afterwards must work.
func TestBenchDockerdRestart(t *testing.T) {
	lab := os.Getenv("BERTH_DOCKERD_LAB")
	if lab == "" {
		t.Skip("a benchmark in scripts/dockerd-lab: make bench-restart")
	}
	live := os.Getenv("BERTH_DOCKERD_LAB_MODE") == "live"
	eng := requireDocker(t)
	s := newCrashServer(t, berthBinary(t), false)
	name, host := newApp(t, eng)
	ctx := context.Background()
	if _, err := s.c.Deploy(ctx, loadApp(t, name, host, appOpts{Version: "v1"}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	l := startRestartLoad(s.httpAddr, host, 8)
	defer l.stop()
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.total.Load() > 200 })

	start := time.Now()
	if out, err := exec.Command(lab, "restart").CombinedOutput(); err != nil {
		t.Fatalf("restart the lab's dockerd: %v\n%s", err, out)
	}
	engineBack := time.Since(start)
	// Serving again: 200 answered requests in a row after the engine is
	// back (a failure starts the count again).
	okSince := func() int64 { return l.total.Load() - l.failed.Load() }
	var mark, failedAt int64 = okSince(), l.failed.Load()
	testutil.Eventually(t, 90*time.Second, name+" serving again after the dockerd restart", func() bool {
		if f := l.failed.Load(); f != failedAt {
			failedAt, mark = f, okSince()
		}
		return okSince()-mark >= 200
	})
	serving := time.Since(start)
	l.stop()

	st, err := s.c.Status(ctx, name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	healthy := 0
	for _, sv := range st.Services {
		for _, c := range sv.Containers {
			if c.Health == "healthy" && !c.Leaving {
				healthy++
			}
		}
	}
	// A deploy after the restart: the engine connection and the event
	// stream are whole again.
	if _, err := s.c.Deploy(ctx, loadApp(t, name, host, appOpts{Version: "v2"}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Errorf("deploy after the dockerd restart: %v", err)
	}
	mode := "without live-restore"
	if live {
		mode = "with live-restore"
	}
	fmt.Printf("bench-restart: (d) a dockerd restart %s: %s; requests failed during %s; engine back after %s, serving (200 answers in a row) after %s, %d healthy containers after\n",
		mode, l, l.failingFor().Round(time.Millisecond), engineBack.Round(time.Millisecond), serving.Round(time.Millisecond), healthy)
	if live && l.failed.Load() != 0 {
		t.Errorf("with live-restore the containers keep serving, yet requests failed: %s", l)
	}
	if healthy < 2 {
		t.Errorf("after the dockerd restart berth sees %d healthy containers of 2: %+v", healthy, st.Services)
	}
}
