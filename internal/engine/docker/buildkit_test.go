package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
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

// A cache mount keeps its content from one build to the next of one app
// (the second build skips the expensive step), is not shared with
// another app, and PruneBuildCache empties it. Not parallel: the prune
// takes every cache mount of the engine.
func TestBuildKit_CacheMountPerApp(t *testing.T) {
	b := newBackend(t)
	enginetest.HoldBuildCache(t, true)
	shell := shellImage(t, b)
	app, other := uniq("bkapp"), uniq("bkother")
	// The expensive step: 3 s of work whose result the cache keeps.
	df := "FROM " + shell + "\nARG RUN\n" +
		"RUN --mount=type=cache,target=/cache echo \"run $RUN\"; if [ -f /cache/result ]; then echo CACHE-HIT > /result; else sleep 3; echo computed > /cache/result; echo CACHE-MISS > /result; fi\n"
	buildRun := func(scope, run string) (string, time.Duration) {
		t.Helper()
		tag := uniq("berth-bk-cache") + ":1"
		start := time.Now()
		_, lines, err := build(t, b, map[string]string{"Dockerfile": df}, engine.BuildOptions{Tags: []string{tag}, CacheScope: scope, BuildArgs: map[string]string{"RUN": run}})
		took := time.Since(start)
		if err != nil {
			t.Fatalf("build %s: %v\n%s", run, err, strings.Join(lines, "\n"))
		}
		out, _ := runIn(t, b, tag, "cat", "/result")
		return out, took
	}
	first, t1 := buildRun(app, "1")
	second, t2 := buildRun(app, "2")
	third, t3 := buildRun(other, "3")
	t.Logf("first build %s (%s), second %s (%s), other app %s (%s)", t1.Round(time.Millisecond), first, t2.Round(time.Millisecond), second, t3.Round(time.Millisecond), third)
	if first != "CACHE-MISS" || second != "CACHE-HIT" || third != "CACHE-MISS" {
		t.Fatalf("cache mount: first %q, second %q, other app %q", first, second, third)
	}
	if t2 >= t1-2*time.Second {
		t.Errorf("the second build took %s, the first %s: the cached step ran again", t2, t1)
	}
	freed, err := b.PruneBuildCache(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pruned the cache mounts: %d bytes", freed)
	if after, _ := buildRun(app, "4"); after != "CACHE-MISS" {
		t.Fatalf("after PruneBuildCache: %q, want the cache gone", after)
	}
}

// A build secret is readable by the RUN step that mounts it and absent
// from the image.
func TestBuildKit_SecretMount(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	shell := shellImage(t, b)
	tag := uniq("berth-bk-secret") + ":1"
	df := "FROM " + shell + "\nRUN --mount=type=secret,id=api_token,required=true wc -c < /run/secrets/api_token > /secret-size && md5sum < /run/secrets/api_token > /secret-md5\n"
	value := []byte(uniq("s3cret-value"))
	// A secret is not part of a step's cache key (as in docker build):
	// no_cache makes the step read this run's value.
	_, lines, err := build(t, b, map[string]string{"Dockerfile": df}, engine.BuildOptions{Tags: []string{tag}, Secrets: map[string][]byte{"api_token": value}, NoCache: true})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, strings.Join(lines, "\n"))
	}
	sum := md5.Sum(value)
	want := fmt.Sprintf("%d\n%x  -", len(value), sum)
	if out, code := runIn(t, b, tag, "sh", "-c", "cat /secret-size /secret-md5; ls /run/secrets/api_token 2>/dev/null; find / -xdev -type f | xargs grep -l "+string(value)+"; true"); code != 0 || out != want {
		t.Fatalf("image: code %d, %q, want %q (the secret read at build time, absent from the image)", code, out, want)
	}
	if strings.Contains(strings.Join(lines, "\n"), string(value)) {
		t.Error("the secret is in the build log")
	}
	// Without the secret, the required mount fails the build.
	_, _, err = build(t, b, map[string]string{"Dockerfile": df}, engine.BuildOptions{Tags: []string{uniq("berth-bk-nosecret") + ":1"}, NoCache: true})
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:2: RUN --mount=type=secret") {
		t.Fatalf("build without the secret: %v", err)
	}
	t.Logf("without the secret: %v", strings.SplitN(err.Error(), "\n", 2)[0])
}

// Target, build args, labels, extra hosts and network none reach the build.
func TestBuildKit_TargetArgsLabelsHostsNetwork(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	shell := shellImage(t, b)
	tag := uniq("berth-bk-target") + ":1"
	df := "FROM " + shell + " AS base\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting && grep db.internal /etc/hosts > /hosts && cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /ifaces\n" +
		"FROM base AS dev\nRUN touch /dev-stage\n" +
		"FROM base AS final\nRUN touch /final-stage\n"
	_, lines, err := build(t, b, map[string]string{"Dockerfile": df}, engine.BuildOptions{
		Tags: []string{tag}, Target: "dev", BuildArgs: map[string]string{"GREETING": "hej"},
		Labels: map[string]string{"team": "shop"}, ExtraHosts: []string{"db.internal=10.1.2.3"}, Network: "none",
	})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, strings.Join(lines, "\n"))
	}
	out, code := runIn(t, b, tag, "sh", "-c", "cat /greeting /hosts /ifaces; test -e /dev-stage && echo dev; test -e /final-stage && echo final; true")
	want := "hej\n10.1.2.3\tdb.internal\nlo\ndev"
	if out != want {
		t.Errorf("image (code %d):\n%s\nwant:\n%s", code, out, want)
	}
	im, err := b.InspectImage(context.Background(), tag)
	if err != nil || im.Labels["team"] != "shop" {
		t.Errorf("labels: %v %v", im.Labels, err)
	}
}

// A failure names the Dockerfile line: a parse error, a failing RUN.
func TestBuildKit_ErrorsNameTheLine(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	shell := shellImage(t, b)
	for _, tc := range []struct{ name, df, want string }{
		{"unknown instruction", "FROM " + shell + "\nRUN true\nFROBNICATE now\n", "Dockerfile:3: FROBNICATE now: "},
		{"failing RUN", "FROM " + shell + "\n\nRUN exit 3\n", "Dockerfile:3: RUN exit 3: "},
		{"missing file", "FROM " + shell + "\nCOPY missing.txt /\n", "Dockerfile:2: COPY missing.txt /: "},
	} {
		_, _, err := build(t, b, map[string]string{"Dockerfile": tc.df}, engine.BuildOptions{Tags: []string{uniq("berth-bk-fail") + ":1"}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to contain %q", tc.name, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, strings.SplitN(err.Error(), "\n", 2)[0])
		}
	}
}

// A base image no registry has: the message names it and its registry.
func TestBuildKit_UnpullableBaseImage(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ref := "127.0.0.1:9/berth-no-such-image:1" // nothing listens on port 9
	_, _, err := build(t, b, map[string]string{"Dockerfile": "FROM " + ref + "\n"}, engine.BuildOptions{Tags: []string{uniq("berth-bk-pull") + ":1"}})
	if err == nil || !strings.Contains(err.Error(), "base image "+ref) || !strings.Contains(err.Error(), "registry 127.0.0.1:9") || !strings.Contains(err.Error(), "Dockerfile:1") {
		t.Fatalf("unpullable base image: %v", err)
	}
	t.Logf("%v", strings.SplitN(err.Error(), "\n", 2)[0])
}

// # syntax= naming another frontend is refused before anything runs.
func TestBuildKit_RefusesForeignSyntax(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	_, _, err := build(t, b, map[string]string{"Dockerfile": "# syntax=docker/dockerfile:1-labs\nFROM scratch\n"}, engine.BuildOptions{Tags: []string{uniq("berth-bk-syntax") + ":1"}})
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:1: # syntax=docker/dockerfile:1-labs asks for the Dockerfile frontend image docker/dockerfile:1-labs") {
		t.Fatalf("foreign syntax: %v", err)
	}
}
