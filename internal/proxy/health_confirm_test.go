package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A target in rotation whose check times out is probed again at once
// with a timeout of at most confirmTimeout: a hung container leaves
// rotation about a second after its first probe timed out, not a whole
// Timeout (here 3s) later.
func TestHealth_HungTargetLeavesRotationSoonAfterItsFirstTimeout(t *testing.T) {
	t.Parallel()
	var hung atomic.Bool
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hung.Load() {
			select { // a stopped process: the connection is open, no answer comes
			case <-stop:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	hc := HealthConfig{Path: "/up", Interval: 50 * time.Millisecond, Timeout: 3 * time.Second, HealthyThreshold: 1, UnhealthyThreshold: 2}
	p := NewPool(keyA, "1", []Target{{ID: "a", Name: "a", Addr: srv.Listener.Addr().String()}}, hc, discardLog)
	t.Cleanup(p.Close)
	waitHealthy(t, p, 1)
	hung.Store(true)

	var first time.Time
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := p.Status()[0]
		if first.IsZero() && st.LastError != "" {
			first = time.Now()
			if st.LastError != "timeout after 3s" {
				t.Errorf("first failure %q, want the full timeout", st.LastError)
			}
		}
		if !st.Healthy {
			took := time.Since(first)
			if first.IsZero() || took > 2*time.Second {
				t.Fatalf("left rotation %s after its first timeout, want about %s", took, confirmTimeout)
			}
			if !strings.HasPrefix(st.LastError, "timeout after 1s") {
				t.Errorf("confirming failure %q, want a timeout after %s", st.LastError, confirmTimeout)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the hung target stayed in rotation")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
}
