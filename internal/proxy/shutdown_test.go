package proxy

import (
	"context"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(time.Millisecond)
	}
}

// A hand-off shuts a server down while its clients go on: a connection
// accepted before Shutdown whose request comes after it began is
// answered (with Connection: close), not closed under the request; and
// ShutdownAfter leaves a kept-alive connection its grace to send one
// more request, answered with Connection: close too. On goroutines and
// on event loops alike.
func TestServer_ShutdownAnswersRequestsThatCameAsItBegan(t *testing.T) {
	for _, kind := range []string{"goroutines", "loops"} {
		t.Run(kind, func(t *testing.T) {
			rig, _ := newLoopRig(t, testServerOptions())
			srv, addr := rig.lean, rig.leanAddr
			if kind == "loops" {
				srv, addr = rig.lane, rig.laneAddr
			}
			kept := dialKeepAlive(t, addr)
			kept.get(t, "GET", "/plain")
			fresh := dialKeepAlive(t, addr)
			waitFor(t, 5*time.Second, "both connections accepted", func() bool { return openConns(srv) == 2 })

			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				shut <- srv.ShutdownAfter(ctx, 2*time.Second)
			}()
			waitFor(t, 5*time.Second, "shutting down", srv.closed.Load)
			for name, k := range map[string]*keepAlive{"new": fresh, "kept alive": kept} {
				r, body := k.get(t, "GET", "/plain")
				if r.StatusCode != 200 || body == "" || !r.Close {
					t.Errorf("%s connection during the shutdown: %d %q close %v", name, r.StatusCode, body, r.Close)
				}
			}
			if err := <-shut; err != nil {
				t.Fatalf("ShutdownAfter: %v", err)
			}
		})
	}
}
