package deploy

import (
	"fmt"
	"slices"
	"time"
)

// Self-healing, the pure part: which containers of a live release to
// replace, which missing replicas to start, and when, from what the
// healer observed and an injected clock. heal.go observes and acts.

// Backoff of the replacements at one replica index of a service (the
// slot that keeps failing): the first is at once, the next
// healBackoffBase later, doubling up to healBackoffMax; a slot whose
// container worked for healBackoffReset starts afresh.
const (
	healBackoffBase  = 10 * time.Second
	healBackoffMax   = 5 * time.Minute
	healBackoffReset = 5 * time.Minute
)

// healMember is one container of a service of the live release as the
// healer sees it.
type healMember struct {
	ID, Name string
	Index    int // replica index (LabelIndex)
	// Failing says the container does not do its work: it exited and
	// was not restarted, the engine restarts it, its Compose healthcheck
	// says unhealthy, or (routed) berth's check keeps it out of
	// rotation. Why says which; Since is when the healer first saw it.
	Failing bool
	Why     string
	Since   time.Time
	// Gone says the container will not come back by itself (exited and
	// not restarted): it is replaced without waiting for ReplaceAfter.
	Gone bool
}

// healService is one service of the live release to keep whole.
type healService struct {
	Name         string
	Desired      int
	ReplaceAfter time.Duration
	Members      []healMember
	Backoff      map[int]healBackoff // by replica index
}

// healBackoff is one replica slot's record of replacements.
type healBackoff struct {
	Attempts int       // replacements since the slot last worked for healBackoffReset
	Last     time.Time // the last replacement's start
	Whole    time.Time // since when the slot's container works (zero: it does not)
}

// next is when the slot may be replaced again.
func (b healBackoff) next() time.Time { return b.Last.Add(b.delay()) }

// delay is how long after the last replacement the next may start.
func (b healBackoff) delay() time.Duration {
	if b.Attempts == 0 {
		return 0
	}
	d := healBackoffBase
	for i := 1; i < b.Attempts && d < healBackoffMax; i++ {
		d *= 2
	}
	return min(d, healBackoffMax)
}

// healAction is what to do to one service now: start replacements of
// Replace (each a new container at its replica index, then the old one
// leaves) and new containers at the indexes Start (missing replicas).
type healAction struct {
	Service string
	Replace []healMember
	Start   []int
	// AllFailing: no replica works; berth replaces one at a time.
	AllFailing bool
}

// healWait is a service that needs healing but waits: for its failing
// containers' ReplaceAfter, or for its backoff.
type healWait struct {
	Service string
	Until   time.Time
	Why     string
}

// healDecision is planHeal's answer.
type healDecision struct {
	Actions []healAction
	Waits   []healWait
}

// planHeal decides, for each service, what to replace now. A gone
// container (exited, not restarted) and a missing replica are replaced
// at once; a failing one once it has failed for ReplaceAfter. Each
// replica slot's replacements follow its backoff. When no replica of a
// service works, only one is replaced at a time (a shared dependency
// that is down would make every replacement fail too); otherwise every
// due one is.
func planHeal(svcs []healService, now time.Time) healDecision {
	var out healDecision
	for _, s := range svcs {
		var due []healMember
		var start []int
		var until time.Time
		why := ""
		later := func(at time.Time, w string) {
			if until.IsZero() || at.Before(until) {
				until, why = at, w
			}
		}
		working := 0
		for _, m := range s.Members {
			if !m.Failing {
				working++
				continue
			}
			at := m.Since.Add(s.ReplaceAfter)
			switch next := s.Backoff[m.Index].next(); {
			case !m.Gone && now.Before(at):
				later(at, "failing, replaced once it has failed for "+s.ReplaceAfter.String())
			case now.Before(next):
				later(next, backoffWhy(s.Backoff[m.Index], next, now))
			default:
				due = append(due, m)
			}
		}
		for _, i := range missingIndexes(s) {
			if next := s.Backoff[i].next(); now.Before(next) {
				later(next, backoffWhy(s.Backoff[i], next, now))
			} else {
				start = append(start, i)
			}
		}
		if len(due) == 0 && len(start) == 0 {
			if !until.IsZero() {
				out.Waits = append(out.Waits, healWait{Service: s.Name, Until: until, Why: why})
			}
			continue
		}
		a := healAction{Service: s.Name, Replace: due, Start: start, AllFailing: working == 0}
		if a.AllFailing {
			// One at a time: a missing replica first (it costs nothing
			// that works), else the container that failed first.
			if len(a.Start) > 0 {
				a.Start, a.Replace = a.Start[:1], nil
			} else {
				slices.SortStableFunc(a.Replace, func(x, y healMember) int { return x.Since.Compare(y.Since) })
				a.Replace = a.Replace[:1]
			}
		}
		out.Actions = append(out.Actions, a)
	}
	return out
}

// backoffWhy says why a slot waits for its backoff.
func backoffWhy(b healBackoff, next, now time.Time) string {
	return fmt.Sprintf("replaced %d time(s) lately: next replacement in %s", b.Attempts, next.Sub(now).Round(time.Second))
}

// missingIndexes are the replica indexes 1..Desired no member has, in
// order, as many as the service is short of Desired.
func missingIndexes(s healService) []int {
	short := s.Desired - len(s.Members)
	if short <= 0 {
		return nil
	}
	have := map[int]bool{}
	for _, m := range s.Members {
		have[m.Index] = true
	}
	var out []int
	for i := 1; len(out) < short; i++ {
		if !have[i] {
			out = append(out, i)
		}
	}
	return out
}

// afterHeal updates a slot's backoff: attempted says a replacement
// started now; whole says the slot's container works now.
func (b healBackoff) afterHeal(attempted, whole bool, now time.Time) healBackoff {
	switch {
	case attempted:
		b.Attempts++
		b.Last = now
		b.Whole = time.Time{}
	case b.Attempts == 0:
		// nothing to reset
	case whole:
		if b.Whole.IsZero() {
			b.Whole = now
		}
		if b.Attempts > 0 && now.Sub(b.Whole) >= healBackoffReset {
			b.Attempts = 0
		}
	default:
		b.Whole = time.Time{}
	}
	return b
}
