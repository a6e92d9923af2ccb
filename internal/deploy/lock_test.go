package deploy

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

// A deployment waits for a reconcile pass that holds its app
// environment, and claims it the moment the pass lets go; it gives up
// after lockWait. Anything else holding it refuses at once.
func TestTryLock_WaitsForAReconcilePass(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		d := New(Options{})
		release, err := d.tryLock("shop", "production", kindReconcile)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			unlock, err := d.tryLock("shop", "production", store.KindDeploy)
			if err != nil {
				t.Error(err)
				return
			}
			unlock()
			got <- time.Since(start)
		}()
		time.Sleep(3 * time.Second) // the pass runs for 3 s of the bubble's clock
		release()
		release() // twice is harmless
		if d := <-got; d != 3*time.Second {
			t.Errorf("the deploy claimed the lock after %s, want 3s (when the pass let go)", d)
		}

		release, _ = d.tryLock("shop", "production", kindReconcile)
		start = time.Now()
		if _, err := d.tryLock("shop", "production", store.KindDeploy); !errors.Is(err, ErrBusy) || time.Since(start) != lockWait {
			t.Errorf("behind a pass that never ends: %v after %s, want ErrBusy after %s", err, time.Since(start), lockWait)
		}
		release()

		hold, _ := d.tryLock("shop", "production", store.KindDeploy)
		start = time.Now()
		if _, err := d.tryLock("shop", "production", store.KindRollback); !errors.Is(err, ErrBusy) || time.Since(start) != 0 {
			t.Errorf("behind a deploy: %v after %s, want ErrBusy at once", err, time.Since(start))
		}
		hold()
	})
}
