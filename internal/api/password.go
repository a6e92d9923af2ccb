package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MinPasswordLength is the shortest password a user may have.
const MinPasswordLength = 12

// maxPasswordLength bounds the work of one hash.
const maxPasswordLength = 1024

// Argon2Params are argon2id's costs. They are stored with each hash (a
// PHC string), so changing them affects new hashes only.
type Argon2Params struct {
	// Memory in KiB, Time (passes) and Threads (lanes).
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultArgon2 are OWASP's argon2id costs (19 MiB, 2 passes, 1 lane):
// some tens of milliseconds a sign-in, and little memory per concurrent
// sign-in on a small server.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const argonSaltLen, argonKeyLen = 16, 32

var b64 = base64.RawStdEncoding

// hashPassword returns pw's argon2id hash as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$SALT$KEY.
func hashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword reports whether pw matches the PHC string hash,
// comparing the keys in constant time.
func verifyPassword(pw, hash string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("password hash: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, fmt.Errorf("password hash: argon2 version %q", parts[2])
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 {
		return false, fmt.Errorf("password hash: parameters %q", parts[3])
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false, errors.New("password hash: bad encoding")
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// checkPassword says what is wrong with a new password.
func checkPassword(pw string) error {
	switch {
	case len([]rune(pw)) < MinPasswordLength:
		return fmt.Errorf("the password is too short: give at least %d characters", MinPasswordLength)
	case len(pw) > maxPasswordLength:
		return fmt.Errorf("the password is too long: give at most %d bytes", maxPasswordLength)
	}
	return nil
}
