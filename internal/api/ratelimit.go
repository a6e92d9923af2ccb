package api

import (
	"sync"
	"time"
)

// signInLimits slows failed sign-ins down. Failures are counted per
// (user, address) pair, per address and per user; once a key has more
// failures than its threshold, attempts under it are refused for a
// delay that doubles with each further failure, up to a cap. The
// per-user threshold is much higher than the pair's, so an attacker
// failing from elsewhere slows themselves long before they lock the
// user out: the right password from another address still works.
type signInLimits struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time // attempts before it are refused
}

// The thresholds: failures allowed before delays start.
const (
	pairThreshold = 5
	addrThreshold = 20
	userThreshold = 100
	// baseDelay is the first delay; each failure after it doubles it, up
	// to maxDelay.
	baseDelay = time.Second
	maxDelay  = 15 * time.Minute
	// forgetAfter: a key with no failure for this long starts over.
	forgetAfter = time.Hour
	// maxKeys bounds the table; beyond it forgotten keys are pruned.
	maxKeys = 100_000
)

func newSignInLimits(now func() time.Time) *signInLimits {
	return &signInLimits{now: now, keys: map[string]*failures{}}
}

func limitKeys(user, addr string) [3]string {
	return [3]string{"pair\x00" + user + "\x00" + addr, "addr\x00" + addr, "user\x00" + user}
}

// wait is how long an attempt for user from addr must wait; 0: it may
// go ahead.
func (l *signInLimits) wait(user, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(user, addr, l.now())
}

func (l *signInLimits) waitLocked(user, addr string, now time.Time) time.Duration {
	var d time.Duration
	for _, k := range limitKeys(user, addr) {
		if f := l.keys[k]; f != nil && now.Before(f.until) {
			d = max(d, f.until.Sub(now))
		}
	}
	return d
}

// attempt admits an attempt for user from addr, counting it as failed
// until succeeded says otherwise, or says how long it must wait. Checking
// and counting at once keeps parallel guesses from all passing the
// check before any failure is counted.
func (l *signInLimits) attempt(user, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if d := l.waitLocked(user, addr, now); d > 0 {
		return d
	}
	l.failedLocked(user, addr, now)
	return 0
}

// failed counts a failed attempt.
func (l *signInLimits) failed(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failedLocked(user, addr, l.now())
}

func (l *signInLimits) failedLocked(user, addr string, now time.Time) {
	if len(l.keys) > maxKeys {
		for k, f := range l.keys {
			if now.Sub(f.last) > forgetAfter {
				delete(l.keys, k)
			}
		}
	}
	for i, k := range limitKeys(user, addr) {
		f := l.keys[k]
		if f == nil || now.Sub(f.last) > forgetAfter {
			f = &failures{}
			l.keys[k] = f
		}
		f.n++
		f.last = now
		if over := f.n - thresholds[i]; over > 0 {
			f.until = now.Add(delayFor(over))
		}
	}
}

var thresholds = [3]int{pairThreshold, addrThreshold, userThreshold}

// succeeded takes back the failure attempt counted for a right
// password: the pair starts over, the address's and the user's counts
// lose the attempt (their earlier failures are left to age out).
func (l *signInLimits) succeeded(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := limitKeys(user, addr)
	delete(l.keys, keys[0])
	for i, k := range keys[1:] {
		if f := l.keys[k]; f != nil && f.n > 0 {
			f.n--
			if f.n <= thresholds[i+1] {
				f.until = time.Time{}
			}
		}
	}
}

func delayFor(over int) time.Duration {
	d := baseDelay
	for i := 1; i < over && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}
