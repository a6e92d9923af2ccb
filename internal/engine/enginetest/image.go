package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
)

// TestImage is an image built for tests.
type TestImage struct {
	Ref string // a tag of its own binary (repository:t-HASH)
	ID  string // its image ID
}

// BuildTestImage compiles testapp (a static Go binary) and builds it into
// a FROM scratch image tagged tag on the engine at DOCKER_HOST. It skips
// the build when the tag already holds the same binary.
func BuildTestImage(t testing.TB, tag string) TestImage {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	dir := t.TempDir()
	bin := filepath.Join(dir, "testapp")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./testapp")
	cmd.Dir = filepath.Dir(self)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testapp: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(binary)
	hash := hex.EncodeToString(sum[:])

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The image is referred to by a tag of its own binary: two checkouts
	// whose testapp differ (engineers' worktrees sharing one engine) each
	// keep theirs, and tag, which the last build takes, is never what a
	// test deploys by, so it cannot change under a running test.
	own := tag
	if i := strings.LastIndexByte(tag, ':'); i > strings.LastIndexByte(tag, '/') {
		own = tag[:i]
	}
	own += ":t-" + hash[:16]
	if ii, err := cli.ImageInspect(ctx, own); err == nil && ii.Config != nil && ii.Config.Labels["berth.test.binary"] == hash {
		return TestImage{Ref: own, ID: ii.ID}
	}
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY testapp /testapp\nLABEL berth.test.binary=%s\nEXPOSE 8080\nENTRYPOINT [\"/testapp\"]\n", hash)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"testapp", 0o755, binary}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{Tags: []string{own, tag}, Remove: true, ForceRemove: true})
	if err != nil {
		t.Fatalf("build test image %s: %v", own, err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ii, err := cli.ImageInspect(ctx, own)
	if err != nil {
		t.Fatalf("build test image %s: %v\n%s", own, err, out)
	}
	return TestImage{Ref: own, ID: ii.ID}
}
