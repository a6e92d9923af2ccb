package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
)

// contextTar is a build context of files (name → content; a name ending
// in "*" is made executable, the star dropped).
func contextTar(t testing.TB, files map[string][]byte) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mode, name := int64(0o644), n
		if strings.HasSuffix(n, "*") {
			mode, name = 0o755, strings.TrimSuffix(n, "*")
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// build runs one build and returns the image ID, the log and the error.
func build(t testing.TB, b *docker.Backend, files map[string]string, o engine.BuildOptions) (string, []string, error) {
	t.Helper()
	fs := map[string][]byte{}
	for k, v := range files {
		fs[k] = []byte(v)
	}
	return buildFiles(t, b, fs, o)
}

func buildFiles(t testing.TB, b *docker.Backend, files map[string][]byte, o engine.BuildOptions) (string, []string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, tag := range o.Tags {
		t.Cleanup(func() { _ = b.RemoveImage(context.Background(), tag) })
	}
	var lines []string
	id, err := b.BuildImage(ctx, contextTar(t, files), o, func(l string) { lines = append(lines, l) })
	return id, lines, err
}

// shellImage builds, with BuildKit, a FROM scratch image holding Debian's
// static busybox (package busybox-static) as /bin/sh and its applets, the
// base the RUN steps of these tests need without a registry.
func shellImage(t testing.TB, b *docker.Backend) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("a static busybox is needed (apt-get install busybox-static; scripts/ensure-test-deps installs it): %v", err)
	}
	tag := uniq("berth-bk-shell") + ":1"
	_, lines, err := buildFiles(t, b, map[string][]byte{
		"busybox*":   bb,
		"Dockerfile": []byte("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"),
	}, engine.BuildOptions{Tags: []string{tag}})
	if err != nil {
		t.Fatalf("build the shell image: %v\n%s", err, strings.Join(lines, "\n"))
	}
	return tag
}

// runIn runs cmd in a container of image and returns its output and exit code.
func runIn(t testing.TB, b *docker.Backend, image string, cmd ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []string
	code, err := engine.RunOnce(ctx, b, engine.ContainerSpec{Name: uniq("berth-bk-run"), Image: image, Cmd: cmd,
		Labels: map[string]string{"berth.test": "buildkit"}}, func(l string) { out = append(out, l) })
	if err != nil {
		t.Fatalf("run %v in %s: %v", cmd, image, err)
	}
	return strings.Join(out, "\n"), code
}

func TestBuildKit_Heredocs(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	shell := shellImage(t, b)
	tag := uniq("berth-bk-heredoc") + ":1"
	df := "# syntax=docker/dockerfile:1\nFROM " + shell + "\nRUN <<EOF\necho hello > /greeting\necho again >> /greeting\nEOF\nCOPY <<EOF /etc/app.conf\nport=8080\nEOF\n"
	_, lines, err := build(t, b, map[string]string{"Dockerfile": df}, engine.BuildOptions{Tags: []string{tag}})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, strings.Join(lines, "\n"))
	}
	t.Logf("log:\n%s", strings.Join(lines, "\n"))
	out, code := runIn(t, b, tag, "cat", "/greeting", "/etc/app.conf")
	if code != 0 || out != "hello\nagain\nport=8080" {
		t.Fatalf("image content: code %d, %q", code, out)
	}
}
