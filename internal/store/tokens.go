package store

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrExists is wrapped by errors about a name that is already taken.
var ErrExists = errors.New("already exists")

var (
	bucketTokens       = []byte("tokens")
	bucketTokensByHash = []byte("tokens_by_hash")
)

// TokenHashSize is the length of a token's hash (SHA-256).
const TokenHashSize = 32

var tokenName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Token is an API token as the store keeps it: its name, role, scope and
// use, never the token itself. The token's SHA-256 is kept only as the
// key of the tokens_by_hash index.
type Token struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Apps and Envs scope the token (empty: every app, every env).
	Apps      []string  `json:"apps,omitempty"`
	Envs      []string  `json:"envs,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// RevokedAt is zero until the token is revoked. A revoked token's
	// record stays, so its refusals can say when it was revoked, and its
	// name stays taken.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// LastUsedAt and LastUsedFrom are when and from which address the
	// token last authenticated a request (recorded at most once a minute
	// or so: see the API).
	LastUsedAt   time.Time `json:"last_used_at,omitzero"`
	LastUsedFrom string    `json:"last_used_from,omitempty"`
}

// CheckTokenName says what is wrong with a token name: lowercase letters,
// digits and '-', starting with a letter or digit, at most 63.
func CheckTokenName(name string) error {
	if !tokenName.MatchString(name) {
		return fmt.Errorf("token name %q: use lowercase letters, digits and '-' (starting with a letter or digit, at most 63)", name)
	}
	return nil
}

// CreateToken stores t under the hash of its token. A name in use (by a
// live, expired or revoked token) wraps ErrExists.
func (s *Store) CreateToken(t Token, hash [TokenHashSize]byte) error {
	if err := CheckTokenName(t.Name); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		byName, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		byHash, err := tx.CreateBucketIfNotExists(bucketTokensByHash)
		if err != nil {
			return err
		}
		if byName.Get([]byte(t.Name)) != nil {
			return fmt.Errorf("token %q: %w (a revoked token's name stays taken: choose another)", t.Name, ErrExists)
		}
		if byHash.Get(hash[:]) != nil {
			return fmt.Errorf("token %q: a token with the same hash exists", t.Name)
		}
		if err := putJSON(byName, []byte(t.Name), t); err != nil {
			return err
		}
		return byHash.Put(append([]byte{}, hash[:]...), []byte(t.Name))
	})
}

// TokenByHash returns the token whose SHA-256 is hash, wrapping
// ErrNotFound when there is none. A revoked or expired token is
// returned: the caller refuses it, saying why.
func (s *Store) TokenByHash(hash [TokenHashSize]byte) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		byHash := tx.Bucket(bucketTokensByHash)
		if byHash == nil {
			return fmt.Errorf("token: %w", ErrNotFound)
		}
		name := byHash.Get(hash[:])
		if name == nil {
			return fmt.Errorf("token: %w", ErrNotFound)
		}
		return getToken(tx, string(name), &t)
	})
	return t, err
}

func getToken(tx *bolt.Tx, name string, t *Token) error {
	b := tx.Bucket(bucketTokens)
	if b == nil || b.Get([]byte(name)) == nil {
		return fmt.Errorf("token %q: %w", name, ErrNotFound)
	}
	return getJSON(b, []byte(name), t)
}

// ListTokens lists the tokens (revoked ones too), by name.
func (s *Store) ListTokens() ([]Token, error) {
	out := []Token{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var t Token
			if err := getJSON(b, k, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RevokeToken marks the token revoked at at and returns it; a token
// revoked before keeps its first revocation time. An unknown name wraps
// ErrNotFound.
func (s *Store) RevokeToken(name string, at time.Time) (Token, error) {
	var t Token
	err := s.updateToken(name, &t, func() {
		if t.RevokedAt.IsZero() {
			t.RevokedAt = at
		}
	})
	return t, err
}

// TouchToken records that the token authenticated a request at at from
// the address from.
func (s *Store) TouchToken(name string, at time.Time, from string) error {
	var t Token
	return s.updateToken(name, &t, func() { t.LastUsedAt, t.LastUsedFrom = at, from })
}

func (s *Store) updateToken(name string, t *Token, change func()) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := getToken(tx, name, t); err != nil {
			return err
		}
		change()
		return putJSON(tx.Bucket(bucketTokens), []byte(name), t)
	})
}
