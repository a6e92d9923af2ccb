package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// TestBenchDeploy is `make bench-deploy`: a deploy and a rollback under a
// constant load of 32 keep-alive clients, printing failed requests,
// requests served and the seconds from the command to 100% of responses
// coming from the new release. It is a benchmark, not a pass/fail timing
// test: it fails only on dropped requests.
func TestBenchDeploy(t *testing.T) {
	if os.Getenv("BERTH_BENCH") != "1" {
		t.Skip("benchmark: run with make bench-deploy")
	}
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatal(err)
	}
	type row struct {
		what, load           string
		served, failed       int64
		toNew, total, record time.Duration
	}
	var rows []row
	measure := func(what, from, to string, rate int, run func() error) {
		l := startPacedLoad(s.addrs.HTTP, host, 32, rate)
		testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.count(from) > 200 })
		start := time.Now()
		err := run()
		total := time.Since(start)
		if err != nil {
			l.stop()
			t.Fatalf("%s: %v", what, err)
		}
		testutil.Eventually(t, 10*time.Second, "new release serving", func() bool { return l.count(to) > 200 })
		l.stop()
		toNew := l.lastStarted(from).Sub(start)
		if toNew < 0 {
			toNew = 0
		}
		load := "saturating"
		if rate > 0 {
			load = fmt.Sprintf("%d req/s", rate)
		}
		rows = append(rows, row{what, load, l.total.Load(), l.failed.Load(), toNew, total, 0})
		if l.failed.Load() != 0 {
			t.Errorf("%s dropped requests: %s", what, l.summary())
		}
	}
	for _, rate := range []int{0, 0, 0, 1000, 1000, 1000} {
		measure("deploy v1->v2", "v1", "v2", rate, func() error {
			_, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v2"}))
			return err
		})
		measure("rollback v2->v1", "v2", "v1", rate, func() error {
			_, err := s.rollback(t, name, 0)
			return err
		})
	}
	fmt.Printf("\nberth deploy benchmark: 2 replicas, 32 keep-alive clients (unpaced, or paced to a total rate), image on host, app ready at once\n")
	fmt.Printf("%-18s %-12s %10s %8s %22s %18s\n", "action", "load", "requests", "failed", "command->100% new (s)", "command total (s)")
	for _, r := range rows {
		fmt.Printf("%-18s %-12s %10d %8d %22.3f %18.3f\n", r.what, r.load, r.served, r.failed, r.toNew.Seconds(), r.total.Seconds())
	}
}
