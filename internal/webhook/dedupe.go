package webhook

import (
	"container/list"
	"sync"
	"time"
)

// Deduper remembers recent delivery IDs so a redelivered webhook is not
// built twice. It holds at most Size IDs, each for at most Window; the
// oldest go first. Safe for concurrent use.
type Deduper struct {
	size   int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	order *list.List // of *seen, oldest at the front
	ids   map[string]*list.Element
}

type seen struct {
	id string
	at time.Time
}

// NewDeduper returns a Deduper of at most size IDs (default 10000), each
// remembered for window (default 24h), reading time from now (default
// time.Now).
func NewDeduper(size int, window time.Duration, now func() time.Time) *Deduper {
	if size <= 0 {
		size = 10000
	}
	if window <= 0 {
		window = 24 * time.Hour
	}
	if now == nil {
		now = time.Now
	}
	return &Deduper{size: size, window: window, now: now, order: list.New(), ids: map[string]*list.Element{}}
}

// Seen records id and reports whether it was already recorded within the
// window. An empty id is never recorded and never seen: a delivery
// without an ID cannot be deduplicated. Key IDs by app when one Deduper
// serves several ("shop/" + id).
func (d *Deduper) Seen(id string) bool {
	if id == "" {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.expire(now)
	if _, ok := d.ids[id]; ok {
		return true
	}
	d.ids[id] = d.order.PushBack(&seen{id: id, at: now})
	for d.order.Len() > d.size {
		d.remove(d.order.Front())
	}
	return false
}

// Forget removes id, so that a redelivery is accepted again: call it when
// the delivery that Seen recorded could not be acted on.
func (d *Deduper) Forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.ids[id]; ok {
		d.remove(e)
	}
}

// Len is the number of IDs remembered.
func (d *Deduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(d.now())
	return d.order.Len()
}

// expire drops the IDs older than the window; they are in time order.
func (d *Deduper) expire(now time.Time) {
	for e := d.order.Front(); e != nil && now.Sub(e.Value.(*seen).at) >= d.window; e = d.order.Front() {
		d.remove(e)
	}
}

func (d *Deduper) remove(e *list.Element) {
	delete(d.ids, e.Value.(*seen).id)
	d.order.Remove(e)
}
