package metrics

import (
	"math"
	"sync"
	"time"
)

// History keeps the recent traffic of each key (an app environment) as
// fixed steps in a ring: requests, 5xx answers and a latency histogram
// per step. It is fed by a sampler that reads the proxy's cumulative
// counters every step and adds the difference, and read by the API's
// charts and the status's p99. Safe for concurrent use; its memory is
// bounded by keys × size points.
type History struct {
	mu     sync.Mutex
	size   int
	bounds []float64 // latency buckets' upper bounds, seconds (+Inf implied)
	series map[string][]Point
}

// Point is one step of a key's traffic, ending at At.
type Point struct {
	At       time.Time
	Requests uint64 // answers of every status
	Errors   uint64 // 5xx answers
	// Latency counts the step's answers by latency bucket (the History's
	// bounds, +Inf last).
	Latency []uint64
}

// NewHistory keeps the last size points of each key.
func NewHistory(size int) *History {
	return &History{size: max(size, 1), series: map[string][]Point{}}
}

// SetBounds sets the latency buckets' upper bounds (seconds) the points'
// Latency counts are by.
func (h *History) SetBounds(b []float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bounds = append(h.bounds[:0:0], b...)
}

// Bounds returns the latency buckets' upper bounds.
func (h *History) Bounds() []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]float64(nil), h.bounds...)
}

// Add appends p to key's points, dropping the oldest beyond the size.
func (h *History) Add(key string, p Point) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := append(h.series[key], p)
	if len(s) > h.size {
		s = append(s[:0:0], s[len(s)-h.size:]...)
	}
	h.series[key] = s
}

// Forget drops what is kept of the keys keep refuses, given each key
// and when its newest point ends. keep must not call h.
func (h *History) Forget(keep func(key string, newest time.Time) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, s := range h.series {
		var newest time.Time
		if len(s) > 0 {
			newest = s[len(s)-1].At
		}
		if !keep(k, newest) {
			delete(h.series, k)
		}
	}
}

// Newest is when key's newest point ends (zero when it has none).
func (h *History) Newest(key string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[key]
	if len(s) == 0 {
		return time.Time{}
	}
	return s[len(s)-1].At
}

// Since returns a copy of key's points that end after since, oldest
// first.
func (h *History) Since(key string, since time.Time) []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Point
	for _, p := range h.series[key] {
		if p.At.After(since) {
			q := p
			q.Latency = append([]uint64(nil), p.Latency...)
			out = append(out, q)
		}
	}
	return out
}

// Merge adds up points: their requests, errors and latency buckets.
func Merge(ps []Point) Point {
	var m Point
	for _, p := range ps {
		m.Requests += p.Requests
		m.Errors += p.Errors
		if len(m.Latency) < len(p.Latency) {
			m.Latency = append(m.Latency, make([]uint64, len(p.Latency)-len(m.Latency))...)
		}
		for i, c := range p.Latency {
			m.Latency[i] += c
		}
		if p.At.After(m.At) {
			m.At = p.At
		}
	}
	return m
}

// Quantile estimates the q-quantile (0 < q < 1) of a histogram with
// upper bounds bounds (seconds; counts has one more, +Inf) as Prometheus's
// histogram_quantile does: linearly within the bucket it falls in, and
// the highest finite bound for the +Inf bucket. NaN when it is empty.
func Quantile(bounds []float64, counts []uint64, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 || len(counts) != len(bounds)+1 {
		return math.NaN()
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			if i == len(bounds) {
				return bounds[len(bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	return bounds[len(bounds)-1]
}
