package testutil

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSyncBuffer_ConcurrentWriters(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := len(b.String()); n != 8*100*2 {
		t.Errorf("%d bytes, want %d", n, 8*100*2)
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed atomic.Bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed.Store(true) }

func TestEventually_FailsAfterTheDeadlineOnly(t *testing.T) {
	var n atomic.Int32
	ok := &fakeTB{TB: t}
	Eventually(ok, time.Second, "third look", func() bool { return n.Add(1) >= 3 })
	if ok.failed.Load() {
		t.Error("failed a condition that came true")
	}
	never := &fakeTB{TB: t}
	start := time.Now()
	Eventually(never, 20*time.Millisecond, "never", func() bool { return never.failed.Load() })
	if !never.failed.Load() || time.Since(start) < 20*time.Millisecond {
		t.Errorf("failed %v after %s, want a failure after 20ms", never.failed.Load(), time.Since(start))
	}
}
