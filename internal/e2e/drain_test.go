package e2e

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// Issue 18's measured defect, on Docker: with a long request open on
// release 1 (drain timeout 60s), deploying release 2 took the drain
// timeout and held the app's lock. The deploy returns at the switch, a
// rollback right after is accepted, and berth stopping mid-drain leaves
// the draining container to the next start, which removes it.
func TestDeploy_ReturnsAtTheSwitchAndARestartMidDrainCleansUp(t *testing.T) {
	eng := requireDocker(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	name, host := newApp(t, eng)
	opts := func(v string) appOpts { return appOpts{Version: v, Replicas: 1, Drain: "60s"} }
	if _, err := s.deploy(t, loadApp(t, name, host, opts("v1"))); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v1, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name, engine.LabelRelease: "1"})
	if len(v1) != 1 {
		t.Fatalf("release 1 runs %d containers", len(v1))
	}
	go func() { // cut when berth stops; its answer does not matter
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.HTTP+"/slow?ms=40000", nil)
		req.Host = host
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	testutil.Eventually(t, 5*time.Second, "the long request in flight", func() bool {
		st, err := s.client.Status(ctx, name, spec.DefaultEnv)
		return err == nil && len(st.Services) == 1 && len(st.Services[0].Containers) == 1 && st.Services[0].Containers[0].InFlight == 1
	})

	start := time.Now()
	if _, err := s.deploy(t, loadApp(t, name, host, opts("v2"))); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("deploy of release 2 with a long request on release 1 took %s (drain timeout 60s)", took.Round(time.Millisecond))
	if took > 20*time.Second {
		t.Errorf("the deploy took %s: it waited for the drain", took)
	}
	st, err := s.client.Status(ctx, name, spec.DefaultEnv)
	if err != nil || st.Deploying || len(st.Draining) != 1 || st.Draining[0].Release != "1" {
		t.Fatalf("status after the deploy: deploying %v, draining %+v, %v", st.Deploying, st.Draining, err)
	}
	start = time.Now()
	if _, err := s.rollback(t, name, 0); err != nil {
		t.Fatalf("rollback right after the deploy: %v", err)
	}
	t.Logf("rollback to the draining release took %s", time.Since(start).Round(time.Millisecond))
	if code, body := get(t, s.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
		t.Fatalf("after the rollback: %d %q", code, body)
	}
	if ci, err := eng.InspectContainer(ctx, v1[0].ID); err != nil || !ci.Running() {
		t.Fatalf("release 1's draining container after the rollback: %v %v", ci.State, err)
	}

	s.stop() // mid-drain: the drain is cut, the container left
	if _, err := eng.InspectContainer(ctx, v1[0].ID); err != nil {
		t.Fatalf("the draining container went with berth's stop: %v", err)
	}
	s2 := startServer(t, dir)
	testutil.Eventually(t, 30*time.Second, "the draining container removed at the next start", func() bool {
		_, err := eng.InspectContainer(ctx, v1[0].ID)
		return err != nil
	})
	waitOldGone(t, eng, name, "1")
	cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name})
	if len(cs) != 1 {
		t.Errorf("%d containers after the restart, want release 1's fresh one", len(cs))
	}
	if code, body := get(t, s2.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
		t.Fatalf("after the restart: %d %q", code, body)
	}
}
