package store

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketSessions holds sessions keyed by the SHA-256 of their secret:
// the secret itself (the cookie's value) is never stored.
var bucketSessions = []byte("sessions")

// Session is a console sign-in as the store keeps it: a user's (User),
// or a token's (Token, TokenSum; User empty). ID is a public handle (for
// listing and revoking), unrelated to the secret.
type Session struct {
	ID   string `json:"id"`
	User string `json:"user"`
	// Token names the token a token sign-in used ("admin-token" or a
	// stored token's name) and TokenSum is its SHA-256, hex: the token
	// is checked again on every request, so revoking or replacing it
	// ends the session too.
	Token     string    `json:"token,omitempty"`
	TokenSum  string    `json:"token_sum,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// LastSeenAt is the last request it authenticated (for idle
	// expiry); ExpiresAt its absolute end.
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	From       string    `json:"from,omitempty"`
}

// CreateSession stores ss under the hash of its secret; the user must
// exist, unless it is a token's session.
func (s *Store) CreateSession(ss Session, hash [TokenHashSize]byte) error {
	return s.update(func(tx *bolt.Tx) error {
		var u User
		if ss.Token == "" {
			if err := getUser(tx, ss.User, &u); err != nil {
				return err
			}
		} else if ss.User != "" || len(ss.TokenSum) != 2*TokenHashSize {
			return fmt.Errorf("session: a token's session has no user and the token's hash")
		}
		b, err := tx.CreateBucketIfNotExists(bucketSessions)
		if err != nil {
			return err
		}
		if b.Get(hash[:]) != nil {
			return fmt.Errorf("session: one with the same hash exists")
		}
		return putJSON(b, append([]byte{}, hash[:]...), ss)
	})
}

// SessionByHash returns the session whose secret's SHA-256 is hash,
// wrapping ErrNotFound. An expired one is returned: the caller decides.
func (s *Store) SessionByHash(hash [TokenHashSize]byte) (Session, error) {
	var ss Session
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil || b.Get(hash[:]) == nil {
			return fmt.Errorf("session: %w", ErrNotFound)
		}
		return getJSON(b, hash[:], &ss)
	})
	return ss, err
}

// TouchSession records that the session authenticated a request at at.
func (s *Store) TouchSession(hash [TokenHashSize]byte, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil || b.Get(hash[:]) == nil {
			return fmt.Errorf("session: %w", ErrNotFound)
		}
		var ss Session
		if err := getJSON(b, hash[:], &ss); err != nil {
			return err
		}
		ss.LastSeenAt = at
		return putJSON(b, hash[:], ss)
	})
}

// ListSessions lists the sessions of user ("": everyone's), oldest
// first.
func (s *Store) ListSessions(user string) ([]Session, error) {
	out := []Session{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var ss Session
			if err := getJSON(b, k, &ss); err != nil {
				return err
			}
			if user == "" || ss.User == user {
				out = append(out, ss)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// DeleteSession ends the session with public id id and returns it,
// wrapping ErrNotFound when there is none.
func (s *Store) DeleteSession(id string) (Session, error) {
	var found Session
	err := s.update(func(tx *bolt.Tx) error {
		n, err := deleteSessions(tx, func(ss Session) bool {
			if ss.ID == id {
				found = ss
				return true
			}
			return false
		})
		if err == nil && n == 0 {
			err = fmt.Errorf("session %q: %w", id, ErrNotFound)
		}
		return err
	})
	return found, err
}

// PruneSessions deletes the sessions for which dead says so (expired)
// and says how many.
func (s *Store) PruneSessions(dead func(Session) bool) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		n, err = deleteSessions(tx, dead)
		return err
	})
	return n, err
}

// deleteSessions deletes the sessions match selects.
func deleteSessions(tx *bolt.Tx, match func(Session) bool) (int, error) {
	b := tx.Bucket(bucketSessions)
	if b == nil {
		return 0, nil
	}
	var doomed [][]byte
	err := b.ForEach(func(k, _ []byte) error {
		var ss Session
		if err := getJSON(b, k, &ss); err != nil {
			return err
		}
		if match(ss) {
			doomed = append(doomed, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}
