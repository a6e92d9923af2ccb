package store

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// changeFeed tells watchers that the store changed: Changed's channel
// is closed by the next committed write, and a new one is made for the
// writes after it. A watcher that misses several writes sees one close:
// it reads the state again, it is not told what changed.
type changeFeed struct {
	mu sync.Mutex
	ch chan struct{}
}

func (f *changeFeed) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		f.ch = make(chan struct{})
	}
	return f.ch
}

func (f *changeFeed) changed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch != nil {
		close(f.ch)
		f.ch = nil
	}
}

// Changed returns a channel that is closed when a write to the store
// commits after the call: the console's live pages wait on it instead of
// reading the store again and again.
func (s *Store) Changed() <-chan struct{} { return s.feed.wait() }

// update runs fn in a read-write transaction, as bolt's Update, and
// tells Changed's watchers once it committed. Every write of the store
// goes through it.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	err := s.db.Update(fn)
	if err == nil {
		s.feed.changed()
	}
	return err
}
