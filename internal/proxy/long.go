package proxy

import "sync/atomic"

// LongConns counts a drained pool's long connections: its WebSockets and
// event streams (text/event-stream, JSON lines) open at the switch, or
// opened after it by requests then in flight. Finished ended by
// themselves before the drain deadline; Closed were ended by the proxy at
// the deadline (WebSockets with close frames 1001, streams between two
// events with their last chunk, where they stood between frames or
// events).
type LongConns struct {
	Open     int `json:"open"`
	Finished int `json:"finished"`
	Closed   int `json:"closed"`
}

// Add returns the sum of l and m.
func (l LongConns) Add(m LongConns) LongConns {
	return LongConns{Open: l.Open + m.Open, Finished: l.Finished + m.Finished, Closed: l.Closed + m.Closed}
}

// longConns counts a pool's long connections as they begin and end.
type longConns struct {
	open atomic.Int64  // open now
	seen atomic.Uint64 // ever begun
}

func (l *longConns) begin() { l.seen.Add(1); l.open.Add(1) }
func (l *longConns) end()   { l.open.Add(-1) }

// longMark is the count of long connections at an instant.
type longMark struct {
	open int64
	seen uint64
}

func (l *longConns) mark() longMark { return longMark{open: l.open.Load(), seen: l.seen.Load()} }

// since returns the long connections open at m or begun since, with
// those still open now as Closed (the drain is about to close them).
func (l *longConns) since(m longMark) LongConns {
	total := int(m.open) + int(l.seen.Load()-m.seen)
	still := min(int(l.open.Load()), total)
	return LongConns{Open: total, Finished: total - still, Closed: still}
}
