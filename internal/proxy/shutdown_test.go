package proxy

import (
	"context"
	"runtime"
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

// openConns returns how many client connections s holds open.
func openConns(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// A hand-off shuts a server down while its clients go on: a connection
// accepted before Shutdown whose request comes after it began is
// answered (with Connection: close), not closed under the request; and
// ShutdownAfter leaves a kept-alive connection its grace to send one
// more request, answered with Connection: close too. On goroutines and
// on event loops alike (those on Linux only).
func TestServer_ShutdownAnswersRequestsThatCameAsItBegan(t *testing.T) {
	for _, kind := range []string{"goroutines", "loops"} {
		t.Run(kind, func(t *testing.T) {
			o := testServerOptions()
			if kind == "loops" {
				if runtime.GOOS != "linux" {
					t.Skip("event loops are Linux only (evloop_linux.go)")
				}
			}
			rig := newRigProxy(t, scriptedApp)
			if kind == "loops" {
				o.Lane, o.EventLoops = rig.px, 2
			}
			srv, addr := rig.serve(t, o)
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
