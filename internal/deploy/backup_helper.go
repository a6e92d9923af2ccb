package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/berth-dev/berth/internal/engine"
)

// The helper image: the containers that read and write volumes for
// backups and restores run berth's own binary, in an image built FROM
// scratch on this engine the first time one is needed (no registry, no
// pull). Its tag names the binary's hash, so an upgraded berth builds
// its own.

// HelperRepo is the helper image's repository; its tag is the first 12
// hex digits of the binary's sha256.
const HelperRepo = "berth-helper"

// labelHelper marks the helper image with its binary's sha256.
const labelHelper = "berth.helper.binary"

type helperImage struct {
	mu     sync.Mutex
	binary string // path of a statically linked berth binary
	id     string // the image, once built or found
}

// image returns the helper image's ID, building it when the engine has
// none for the binary.
func (h *helperImage) image(ctx context.Context, eng engine.Engine, say func(string, ...any)) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.id != "" {
		if _, err := eng.InspectImage(ctx, h.id); err == nil {
			return h.id, nil
		}
		h.id = ""
	}
	if h.binary == "" {
		return "", errors.New("backups need berth's helper image, and this server knows no berth binary to build it from (berth server sets it to its own)")
	}
	bin, err := os.ReadFile(h.binary)
	if err != nil {
		return "", fmt.Errorf("build the helper image: read berth's binary: %w", err)
	}
	if err := checkStatic(h.binary); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bin)
	hash := hex.EncodeToString(sum[:])
	tag := HelperRepo + ":" + hash[:12]
	if img, err := eng.InspectImage(ctx, tag); err == nil && img.Labels[labelHelper] == hash {
		h.id = img.ID
		return h.id, nil
	}
	say("building the helper image %s from berth's own binary (once per berth version)", tag)
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY berth /berth\nLABEL %s=%s\nENTRYPOINT [\"/berth\", \"volume-helper\"]\n", labelHelper, hash)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"berth", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	id, err := eng.BuildImage(ctx, &buf, engine.BuildOptions{Tags: []string{tag}}, nil)
	if err != nil {
		return "", fmt.Errorf("build the helper image %s: %w", tag, err)
	}
	h.id = id
	return id, nil
}

// checkStatic refuses a binary that needs a dynamic loader: FROM
// scratch has none.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("build the helper image: %s is not a Linux binary berth can run in a container (%v); run berth server from a Linux build of berth", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("build the helper image: berth's binary %s is dynamically linked, and the helper image (FROM scratch) has no libc; build berth with CGO_ENABLED=0 (make build does) and restart berth server", path)
		}
	}
	return nil
}
