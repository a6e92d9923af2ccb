package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A token is kept by name with its role and scope; it is found by the
// SHA-256 of the token, never by the token, which the store never sees.
// Names are validated and unique, revoked names included.
func TestStore_TokensByHash(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sum := sha256.Sum256([]byte("bt_secret"))
	tok := Token{Name: "ci-shop", Role: "ci", Apps: []string{"shop"}, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	if err := s.CreateToken(tok, sum); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(sum)
	if err != nil || got.Name != "ci-shop" || got.Role != "ci" || len(got.Apps) != 1 || !got.ExpiresAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("TokenByHash: %+v, %v", got, err)
	}
	if _, err := s.TokenByHash(sha256.Sum256([]byte("other"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown hash: %v, want ErrNotFound", err)
	}
	if err := s.CreateToken(Token{Name: "ci-shop", Role: "viewer"}, sha256.Sum256([]byte("x"))); !errors.Is(err, ErrExists) {
		t.Errorf("the same name again: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "CI", "ci_shop", "-ci", "ci shop", string(bytes.Repeat([]byte("a"), 64))} {
		if err := s.CreateToken(Token{Name: bad, Role: "ci"}, sha256.Sum256([]byte(bad+"y"))); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if err := s.TouchToken("ci-shop", at.Add(time.Minute), "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	rev, err := s.RevokeToken("ci-shop", at.Add(2*time.Minute))
	if err != nil || !rev.RevokedAt.Equal(at.Add(2*time.Minute)) || rev.LastUsedFrom != "10.0.0.1" {
		t.Fatalf("RevokeToken: %+v, %v", rev, err)
	}
	if again, _ := s.RevokeToken("ci-shop", at.Add(time.Hour)); !again.RevokedAt.Equal(rev.RevokedAt) {
		t.Errorf("revoking again moved the revocation time to %s", again.RevokedAt)
	}
	if _, err := s.RevokeToken("nope", at); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking an unknown token: %v", err)
	}
	if err := s.CreateToken(Token{Name: "ci-shop", Role: "ci"}, sha256.Sum256([]byte("z"))); !errors.Is(err, ErrExists) {
		t.Errorf("a revoked token's name reused: %v", err)
	}
	list, err := s.ListTokens()
	if err != nil || len(list) != 1 || list[0].RevokedAt.IsZero() {
		t.Errorf("ListTokens: %+v, %v", list, err)
	}
}

// What reaches the file is the hash: the token's bytes are nowhere in it.
func TestStore_TokenIsNotInTheFile(t *testing.T) {
	t.Parallel()
	s, dir := openTest(t)
	secret := "bt_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	if err := s.CreateToken(Token{Name: "deploy", Role: "deployer"}, sha256.Sum256([]byte(secret))); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(secret[3:])) {
		t.Error("the token is in the store's file")
	}
	sum := sha256.Sum256([]byte(secret))
	if !bytes.Contains(b, sum[:]) {
		t.Error("the token's hash is not in the store's file")
	}
}
