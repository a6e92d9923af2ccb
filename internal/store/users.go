package store

import (
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketUsers = []byte("users")

// User is a console user as the store keeps it: name, role, scope and
// the password's slow hash (a PHC string made by the API), never the
// password.
type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Apps and Envs scope the user as they scope a token.
	Apps         []string  `json:"apps,omitempty"`
	Envs         []string  `json:"envs,omitempty"`
	PasswordHash string    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
	// LastSignInAt and LastSignInFrom are the last successful sign-in.
	LastSignInAt   time.Time `json:"last_sign_in_at,omitzero"`
	LastSignInFrom string    `json:"last_sign_in_from,omitempty"`
}

// CheckUserName says what is wrong with a user name: the rule of token
// names.
func CheckUserName(name string) error {
	if !tokenName.MatchString(name) {
		return fmt.Errorf("user name %q: use lowercase letters, digits and '-' (starting with a letter or digit, at most 63)", name)
	}
	return nil
}

// CreateUser stores u; a name in use wraps ErrExists.
func (s *Store) CreateUser(u User) error {
	if err := CheckUserName(u.Name); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketUsers)
		if err != nil {
			return err
		}
		if b.Get([]byte(u.Name)) != nil {
			return fmt.Errorf("user %q: %w", u.Name, ErrExists)
		}
		return putJSON(b, []byte(u.Name), u)
	})
}

// GetUser returns the user called name, wrapping ErrNotFound.
func (s *Store) GetUser(name string) (User, error) {
	var u User
	err := s.db.View(func(tx *bolt.Tx) error { return getUser(tx, name, &u) })
	return u, err
}

func getUser(tx *bolt.Tx, name string, u *User) error {
	b := tx.Bucket(bucketUsers)
	if b == nil || b.Get([]byte(name)) == nil {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	return getJSON(b, []byte(name), u)
}

// ListUsers lists the users by name.
func (s *Store) ListUsers() ([]User, error) {
	out := []User{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var u User
			if err := getJSON(b, k, &u); err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RemoveUser deletes the user and all its sessions, in one transaction,
// and returns how many sessions ended. An unknown name wraps
// ErrNotFound.
func (s *Store) RemoveUser(name string) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		var u User
		if err := getUser(tx, name, &u); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsers).Delete([]byte(name)); err != nil {
			return err
		}
		var err error
		n, err = deleteSessions(tx, func(ss Session) bool { return ss.User == name })
		return err
	})
	return n, err
}

// SetPassword replaces the user's password hash and ends its sessions
// but the one whose id is keep ("" : all), in one transaction; it says
// how many ended.
func (s *Store) SetPassword(name, hash, keep string) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		var u User
		if err := getUser(tx, name, &u); err != nil {
			return err
		}
		u.PasswordHash = hash
		if err := putJSON(tx.Bucket(bucketUsers), []byte(name), u); err != nil {
			return err
		}
		var err error
		n, err = deleteSessions(tx, func(ss Session) bool { return ss.User == name && ss.ID != keep })
		return err
	})
	return n, err
}

// TouchUserSignIn records a successful sign-in at at from from.
func (s *Store) TouchUserSignIn(name string, at time.Time, from string) error {
	return s.update(func(tx *bolt.Tx) error {
		var u User
		if err := getUser(tx, name, &u); err != nil {
			return err
		}
		u.LastSignInAt, u.LastSignInFrom = at, from
		return putJSON(tx.Bucket(bucketUsers), []byte(name), u)
	})
}
