package store

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

// Users are kept by name with their role, scope and password hash;
// sessions by the SHA-256 of their secret. Removing a user ends its
// sessions; a new password ends all but the one kept.
func TestStore_UsersAndSessions(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.CreateUser(User{Name: "ann", Role: "deployer", Apps: []string{"shop"}, PasswordHash: "$argon2id$x", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(User{Name: "ann", Role: "viewer"}); !errors.Is(err, ErrExists) {
		t.Errorf("the same name again: %v", err)
	}
	if err := s.CreateUser(User{Name: "Bad Name"}); err == nil {
		t.Error("a bad name accepted")
	}
	if err := s.CreateSession(Session{ID: "s1", User: "nobody"}, sha256.Sum256([]byte("x"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session of an unknown user: %v", err)
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		if err := s.CreateSession(Session{ID: id, User: "ann", CreatedAt: at}, sha256.Sum256([]byte("secret-"+id))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TouchSession(sha256.Sum256([]byte("secret-s1")), at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByHash(sha256.Sum256([]byte("secret-s1")))
	if err != nil || got.ID != "s1" || !got.LastSeenAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("SessionByHash: %+v, %v", got, err)
	}
	if n, err := s.SetPassword("ann", "$argon2id$y", "s1"); err != nil || n != 2 {
		t.Fatalf("SetPassword: %d, %v; want 2 ended", n, err)
	}
	if u, _ := s.GetUser("ann"); u.PasswordHash != "$argon2id$y" {
		t.Errorf("hash %q", u.PasswordHash)
	}
	if l, _ := s.ListSessions("ann"); len(l) != 1 || l[0].ID != "s1" {
		t.Errorf("after passwd: %+v", l)
	}
	if _, err := s.DeleteSession("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteSession of an unknown id: %v", err)
	}
	if err := s.CreateSession(Session{ID: "s4", User: "ann"}, sha256.Sum256([]byte("secret-s4"))); err != nil {
		t.Fatal(err)
	}
	if ss, err := s.DeleteSession("s4"); err != nil || ss.User != "ann" {
		t.Errorf("DeleteSession: %+v, %v", ss, err)
	}
	if n, err := s.RemoveUser("ann"); err != nil || n != 1 {
		t.Errorf("RemoveUser: %d, %v", n, err)
	}
	if _, err := s.SessionByHash(sha256.Sum256([]byte("secret-s1"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("a removed user's session: %v", err)
	}
	if l, _ := s.ListUsers(); len(l) != 0 {
		t.Errorf("users left: %+v", l)
	}
}
