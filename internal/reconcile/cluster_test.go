package reconcile

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// follower fails its first failures passes, then succeeds.
type follower struct {
	mu       sync.Mutex
	passes   int
	failures int
}

func (f *follower) SyncClusterRoutes(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passes++
	if f.passes <= f.failures {
		return errors.New("manager unreachable")
	}
	return nil
}

// FollowCluster passes once at start and then every period; a run of
// failing passes is logged once, and the recovery once.
func TestFollowCluster_PollsAndLogsAFailingRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
		f := &follower{failures: 3}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			FollowCluster(ctx, FollowOptions{Routes: f, Logger: log, Every: time.Second})
		}()
		time.Sleep(5*time.Second + time.Millisecond) // fake time: passes at 0..5s
		synctest.Wait()
		cancel()
		<-done
		if f.passes != 6 {
			t.Errorf("%d passes in 5s at one a second, want 6", f.passes)
		}
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		if n := strings.Count(out, "follow cluster instances"); n != 1 {
			t.Errorf("failure logged %d times, want once:\n%s", n, out)
		}
		if n := strings.Count(out, "following cluster instances again"); n != 1 {
			t.Errorf("recovery logged %d times, want once:\n%s", n, out)
		}
		if !strings.Contains(out, "manager unreachable") {
			t.Errorf("the log does not say why:\n%s", out)
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
