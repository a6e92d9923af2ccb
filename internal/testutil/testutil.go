// Package testutil holds the small helpers the tests of several packages
// share. It imports nothing of berth's, so any package may use it.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for a writer and readers at once
// (a log a server writes while a test reads it).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pollEvery is how often Eventually looks at its condition.
const pollEvery = 5 * time.Millisecond

// Eventually polls cond until it holds, and fails the test when it does
// not within the duration; what names the condition in the failure.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not true within %s", what, within)
		}
		time.Sleep(pollEvery)
	}
}
