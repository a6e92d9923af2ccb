package l4

import (
	"sort"
	"sync"
)

// Set holds the listeners of every published port, by a key its user
// chooses (one per port of a service), each with the owner it names in
// messages. It is the one place that knows which host addresses berth
// holds.
type Set struct {
	mu sync.Mutex
	m  map[string]entry
}

type entry struct {
	l     *Listener
	owner string
}

// Entry is one listener of a Set.
type Entry struct {
	Key      string
	Owner    string
	Listener *Listener
}

// NewSet returns an empty Set.
func NewSet() *Set { return &Set{m: map[string]entry{}} }

// Get returns the listener under key, or nil.
func (s *Set) Get(key string) *Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key].l
}

// Put stores l under key for owner. A listener already under key is
// returned for the caller to close.
func (s *Set) Put(key, owner string, l *Listener) *Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.m[key].l
	s.m[key] = entry{l: l, owner: owner}
	return prev
}

// Remove takes the listener under key out of the set and returns it
// (nil when there is none); the caller drains and closes it.
func (s *Set) Remove(key string) *Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return nil
	}
	delete(s.m, key)
	return e.l
}

// List returns every listener, sorted by key.
func (s *Set) List() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.m))
	for k, e := range s.m {
		out = append(out, Entry{Key: k, Owner: e.owner, Listener: e.l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Close closes every listener.
func (s *Set) Close() {
	s.mu.Lock()
	m := s.m
	s.m = map[string]entry{}
	s.mu.Unlock()
	for _, e := range m {
		e.l.Close()
	}
}
