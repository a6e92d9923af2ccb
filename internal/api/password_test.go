package api

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cheapArgon keeps the tests fast; the format and check are the same.
var cheapArgon = Argon2Params{Memory: 64, Time: 1, Threads: 1}

// A hash is a PHC string carrying its costs and a fresh salt; it
// verifies its password and no other, also with other costs than the
// server's current ones.
func TestPassword_HashAndVerify(t *testing.T) {
	t.Parallel()
	h1, err := hashPassword("correct horse battery", cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("correct horse battery", Argon2Params{Memory: 128, Time: 2, Threads: 2})
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") || !strings.HasPrefix(h2, "$argon2id$v=19$m=128,t=2,p=2$") {
		t.Errorf("hashes %q, %q", h1, h2)
	}
	if strings.Contains(h1, "horse") || h1 == h2 {
		t.Errorf("hash %q", h1)
	}
	for _, h := range []string{h1, h2} {
		if ok, err := verifyPassword("correct horse battery", h); !ok || err != nil {
			t.Errorf("the right password: %v, %v", ok, err)
		}
		if ok, _ := verifyPassword("correct horse batterz", h); ok {
			t.Error("a wrong password verified")
		}
	}
	for _, bad := range []string{"", "$2a$10$x", "$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAA", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA"} {
		if _, err := verifyPassword("x", bad); err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
	if err := checkPassword("short"); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("a short password: %v", err)
	}
}

// Failures for one (user, address) pair are free up to a few, then
// wait a delay that doubles; the pair's delay does not hold the same
// user at another address, and a success clears the pair. Failures are
// forgotten after an hour without one.
func TestSignInLimits_BackOffPerPair(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := newSignInLimits(clk.Now)
	for range pairThreshold {
		if d := l.wait("ann", "10.0.0.9"); d != 0 {
			t.Fatalf("waits %s before the threshold", d)
		}
		l.failed("ann", "10.0.0.9")
	}
	if d := l.wait("ann", "10.0.0.9"); d != 0 {
		t.Fatalf("at the threshold: %s", d)
	}
	l.failed("ann", "10.0.0.9")
	if d := l.wait("ann", "10.0.0.9"); d != time.Second {
		t.Fatalf("one over: %s, want 1s", d)
	}
	l.failed("ann", "10.0.0.9")
	l.failed("ann", "10.0.0.9")
	if d := l.wait("ann", "10.0.0.9"); d != 4*time.Second {
		t.Errorf("three over: %s, want 4s", d)
	}
	if d := l.wait("ann", "10.0.0.1"); d != 0 {
		t.Errorf("another address waits %s", d)
	}
	if d := l.wait("bob", "10.0.0.9"); d != 0 {
		t.Errorf("another user from the address waits %s (below the address's threshold)", d)
	}
	clk.Advance(4 * time.Second)
	if d := l.wait("ann", "10.0.0.9"); d != 0 {
		t.Errorf("after the delay: %s", d)
	}
	l.succeeded("ann", "10.0.0.9")
	l.failed("ann", "10.0.0.9")
	if d := l.wait("ann", "10.0.0.9"); d != 0 {
		t.Errorf("after a success the pair starts over: %s", d)
	}
	for range 60 {
		l.failed("ann", "10.0.0.9")
	}
	if d := l.wait("ann", "10.0.0.9"); d != maxDelay {
		t.Errorf("the delay is capped: %s", d)
	}
	if d := l.wait("zed", "10.0.0.9"); d == 0 {
		t.Error("an address over its threshold is slowed for every user")
	}
	clk.Advance(maxDelay + forgetAfter + time.Second)
	l.failed("ann", "10.0.0.9")
	if d := l.wait("ann", "10.0.0.9"); d != 0 {
		t.Errorf("after an hour the failures are forgotten: %s", d)
	}
}

// Parallel guesses cannot all pass the check before their failures are
// counted: of 20 at once, only those under the pair's threshold (and the
// one that reaches it) get to try a password. A success takes its own
// count back.
func TestSignInLimits_ParallelAttemptsAreCounted(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := newSignInLimits(clk.Now)
	var wg sync.WaitGroup
	var admitted atomic.Int32
	for range 20 {
		wg.Go(func() {
			if l.attempt("ann", "10.0.0.9") == 0 {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != pairThreshold+1 {
		t.Errorf("%d parallel attempts admitted, want %d", n, pairThreshold+1)
	}
	for range addrThreshold {
		if l.attempt("bob", "10.0.0.1") == 0 {
			l.succeeded("bob", "10.0.0.1")
		}
	}
	if d := l.wait("carl", "10.0.0.1"); d != 0 {
		t.Errorf("successes counted against the address: %s", d)
	}
}
