package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeyFile is the secrets key's file name in the data dir (mode 0600).
const KeyFile = "secret.key"

// sealer encrypts secret values with XChaCha20-Poly1305. The additional
// data binds each ciphertext to its app, environment and name, so a
// ciphertext moved to another secret does not decrypt.
type sealer struct{ key []byte }

// loadKey reads the data dir's key, creating a random one on first use.
func loadKey(dataDir string) (*sealer, error) {
	p := filepath.Join(dataDir, KeyFile)
	key, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, chacha20poly1305.KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create secrets key: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("write secrets key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("read secrets key: %w", err)
	}
	if len(key) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("secrets key %s has %d bytes, want %d: restore it from a backup", p, len(key), chacha20poly1305.KeySize)
	}
	return &sealer{key: key}, nil
}

func aad(app, env, name string) []byte { return []byte(app + "\x00" + env + "\x00" + name) }

func (s *sealer) seal(app, env, name, value string) ([]byte, error) {
	a, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(value)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return a.Seal(nonce, nonce, []byte(value), aad(app, env, name)), nil
}

func (s *sealer) open(app, env, name string, box []byte) (string, error) {
	a, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return "", err
	}
	if len(box) < a.NonceSize() {
		return "", fmt.Errorf("secret %s of %s/%s is corrupt", name, app, env)
	}
	plain, err := a.Open(nil, box[:a.NonceSize()], box[a.NonceSize():], aad(app, env, name))
	if err != nil {
		return "", fmt.Errorf("secret %s of %s/%s does not decrypt with %s (was the key replaced?)", name, app, env, KeyFile)
	}
	return string(plain), nil
}
