package e2e

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// webContainers are the names and IDs of app's web containers that the
// status lists as running.
func webContainers(t *testing.T, s *server, app string) (names, ids []string) {
	t.Helper()
	st, err := s.client.Status(context.Background(), app, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Services[0].Containers {
		if c.State == "running" && !c.Leaving {
			names, ids = append(names, c.Name), append(ids, c.ID)
		}
	}
	return names, ids
}

// docker runs the docker CLI, as a user at the host would.
func dockerCLI(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// healedFrom waits until app runs want healthy web replicas, none of
// them one of gone, and returns how long that took.
func healedFrom(t *testing.T, s *server, app string, want int, gone []string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testutil.Eventually(t, within, "the replicas replaced", func() bool {
		st, err := s.client.Status(context.Background(), app, spec.DefaultEnv)
		if err != nil || st.Services[0].Healthy != want {
			return false
		}
		n := 0
		for _, c := range st.Services[0].Containers {
			if c.Leaving {
				continue
			}
			if slices.Contains(gone, c.Name) && c.State == "running" {
				return false
			}
			if c.State == "running" && c.Health == "healthy" {
				n++
			}
		}
		return n == want
	})
	return time.Since(start)
}

// eventOf waits for an event of kind whose message has every part.
func eventOf(t *testing.T, s *server, app, kind string, parts ...string) dto.Event {
	t.Helper()
	var found dto.Event
	testutil.Eventually(t, 15*time.Second, "a "+kind+" event with "+strings.Join(parts, ", "), func() bool {
		evs, err := s.client.Events(context.Background(), app, spec.DefaultEnv, 50)
		if err != nil {
			return false
		}
		for _, e := range evs {
			if e.Kind != kind {
				continue
			}
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(e.Message, p)
			}
			if ok {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// TestHeal_ReplacesRemovedHungAndStoppedReplicas: under load, a replica
// removed with docker rm -f is started again, one whose process is
// stopped (SIGSTOP: running, not answering) is replaced after
// replace_after, and when every replica is stopped berth brings them
// back, one at a time first. Each is an event with its reason.
func TestHeal_ReplacesRemovedHungAndStoppedReplicas(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 2, ReplaceAfter: "2s", StopGrace: "1s", Drain: "2s"})); err != nil {
		t.Fatal(err)
	}
	l := startPacedLoad(s.addrs.HTTP, host, 4, 200)
	defer l.stop()
	testutil.Eventually(t, 10*time.Second, "load flowing", func() bool { return l.total.Load() > 50 })

	// A replica removed by hand is started again at once.
	names, ids := webContainers(t, s, name)
	if len(names) != 2 {
		t.Fatalf("running before: %v", names)
	}
	failed0 := l.failed.Load()
	dockerCLI(t, "rm", "-f", ids[0])
	took := healedFrom(t, s, name, 2, names[:1], 30*time.Second)
	eventOf(t, s, name, "replaced", "in place of a replica that was removed")
	t.Logf("docker rm -f: 2/2 healthy again after %s; requests failed meanwhile: %d (%s)", took.Round(time.Millisecond), l.failed.Load()-failed0, l.summary())

	// A hung replica (its process stopped) leaves rotation, and is
	// replaced once it has failed for replace_after (2s).
	names, ids = webContainers(t, s, name)
	failed0 = l.failed.Load()
	l.slowest.Store(0)
	dockerCLI(t, "kill", "-s", "STOP", ids[1])
	took = healedFrom(t, s, name, 2, names[1:2], 30*time.Second)
	eventOf(t, s, name, "replaced", "replaced container "+names[1], "out of rotation")
	hungFailed := l.failed.Load() - failed0
	t.Logf("docker kill -s STOP: replaced after %s; requests failed meanwhile: %d; slowest request %s", took.Round(time.Millisecond), hungFailed,
		time.Duration(l.slowest.Load()).Round(time.Millisecond))
	if hungFailed != 0 {
		t.Errorf("%d requests failed while a replica hung: the others should have answered them: %s", hungFailed, l.summary())
	}
	if took < 2*time.Second {
		t.Errorf("the hung replica was replaced after %s, before replace_after (2s)", took)
	}

	// Every replica stopped: berth starts them again, one first.
	names, ids = webContainers(t, s, name)
	dockerCLI(t, append([]string{"stop", "-t", "1"}, ids...)...)
	took = healedFrom(t, s, name, 2, names, 60*time.Second)
	eventOf(t, s, name, "all_failing", "no replica of web works", "one at a time")
	t.Logf("docker stop of both: 2/2 healthy again after %s", took.Round(time.Millisecond))

	evs, err := s.client.Events(context.Background(), name, spec.DefaultEnv, 50)
	if err != nil {
		t.Fatal(err)
	}
	replaced := 0
	for _, e := range evs {
		if e.Kind == "replaced" {
			replaced++
		}
	}
	if replaced != 4 {
		t.Errorf("%d replaced events, want 4 (one removed, one hung, two stopped): %+v", replaced, evs)
	}
}
