package swarm

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// A write that lost to a concurrent update is retried at once; one that
// met a leader election is retried after a backoff that grows; anything
// else, a sixth attempt or a cancelled context is not.
func TestRetryWrite_SequenceAndLeaderChange(t *testing.T) {
	t.Parallel()
	seq := errors.New("rpc error: code = Unknown desc = update out of sequence")
	leader := errors.New("rpc error: code = Unknown desc = raft: failed to process the request: node lost leader status")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		start := time.Now()
		if !retryWrite(ctx, seq, 0) || time.Since(start) != 0 {
			t.Errorf("sequence error: want a retry at once (waited %s)", time.Since(start))
		}
		start = time.Now()
		if !retryWrite(ctx, leader, 2) || time.Since(start) != time.Second {
			t.Errorf("leader change on attempt 2: want a retry after 1s, waited %s", time.Since(start))
		}
		if retryWrite(ctx, errors.New("no such service"), 0) {
			t.Error("another error is retried")
		}
		start = time.Now()
		if !retryWrite(ctx, leader, 9) || time.Since(start) != 2*time.Second {
			t.Errorf("leader change on attempt 9: want a retry after the 2s cap, waited %s", time.Since(start))
		}
		if retryWrite(ctx, seq, 5) {
			t.Error("a sixth attempt after a sequence error is retried")
		}
		if retryWrite(ctx, leader, 14) {
			t.Error("a leader change is retried past the budget")
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if retryWrite(cancelled, leader, 0) {
			t.Error("a leader change is retried after the context ended")
		}
	})
}
