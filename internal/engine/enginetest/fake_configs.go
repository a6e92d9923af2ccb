package enginetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureConfig stores data under its content-addressed name (as
// EnsureSecret names secrets).
func (f *Fake) EnsureConfig(ctx context.Context, name string, data []byte, labels map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("EnsureConfig"); err != nil {
		return "", err
	}
	full := contentName(name, data)
	w := f.workLocked()
	if _, ok := w.configs[full]; !ok {
		w.configs[full] = slices.Clone(data)
		f.labelLocked("config", full, f.stampLocked(labels))
	}
	return full, nil
}

// ConfigData returns a stored config's data (for tests).
func (f *Fake) ConfigData(name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.workLocked().configs[name]
	return slices.Clone(b), ok
}

// AppliedWorkload returns the spec the named workload runs (for tests).
func (f *Fake) AppliedWorkload(name string) (engine.WorkloadSpec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, wl := range f.workLocked().workloads {
		if wl.spec.Name == name {
			return wl.spec, true
		}
	}
	return engine.WorkloadSpec{}, false
}

// contentName is the content-addressed name of a secret or config, as
// engine/swarm names them: name (cut to fit), a dash, 12 hex digits of
// the data's SHA-256.
func contentName(name string, data []byte) string {
	sum := sha256.Sum256(data)
	if len(name) > 51 {
		name = name[:51]
	}
	return name + "-" + hex.EncodeToString(sum[:6])
}
