package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// berth deploy builds with BuildKit: a heredoc, a cache mount that
// survives to the next deploy's build, a build secret from the Compose
// file's secrets: (sent to the server, absent from the image), and a
// multi-stage build whose last stage is FROM a local image ID.
func TestDeploy_BuildKitHeredocCacheMountSecret(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("a static busybox is needed (apt-get install busybox-static; scripts/ensure-test-deps installs it): %v", err)
	}
	dir, secrets := t.TempDir(), t.TempDir()
	token := filepath.Join(secrets, "token")
	df := `# syntax=docker/dockerfile:1
FROM scratch AS shell
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]

FROM shell AS build
ARG FLAVOUR
RUN --mount=type=cache,target=/cache --mount=type=secret,id=token,required=true <<EOF
set -e
echo "building $FLAVOUR"
[ -f /cache/count ] || { sleep 2; echo 0 > /cache/count; }
echo $(( $(cat /cache/count) + 1 )) > /cache/count
cp /cache/count /build-count
wc -c < /run/secrets/token | tr -d ' ' > /secret-size
EOF
COPY <<EOF /greeting.txt
hello from a heredoc
EOF

FROM ` + image(t).ID + `
COPY --from=build /build-count /secret-size /greeting.txt /
`
	for file, body := range map[string][]byte{"Dockerfile": []byte(df), "busybox": busybox} {
		if err := os.WriteFile(filepath.Join(dir, file), body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	value := "t0ken-" + name
	if err := os.WriteFile(token, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	deploy := func(flavour string) (string, time.Duration) {
		t.Helper()
		compose := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    build: { context: `+dir+`, args: { FLAVOUR: `+flavour+` }, secrets: [ token ] }
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
secrets:
  token: { file: `+token+` }
`)
		start := time.Now()
		code, out, errOut := s.berth(t, "deploy", "-f", compose)
		took := time.Since(start)
		if code != 0 {
			t.Fatalf("deploy %s: %d\n%s\n%s", flavour, code, out, errOut)
		}
		if strings.Contains(out+errOut, value) {
			t.Errorf("the secret is in the deploy output:\n%s", out)
		}
		return out, took
	}
	read := func(path string) string {
		t.Helper()
		code, body := get(t, s.addrs.HTTP, host, "/read?path="+path)
		if code != 200 {
			t.Fatalf("read %s: %d %q", path, code, body)
		}
		return strings.TrimSpace(body)
	}
	enginetest.HoldBuildCache(t, false) // no prune between the two builds
	out, first := deploy("one")
	for _, want := range []string{"RUN --mount=type=cache,target=/cache --mount=type=secret", "building one", "exporting to image"} {
		if !strings.Contains(out, want) {
			t.Errorf("build log lacks %q:\n%s", want, out)
		}
	}
	if got := read("/greeting.txt"); got != "hello from a heredoc" {
		t.Errorf("COPY heredoc: %q", got)
	}
	if got := read("/secret-size"); got != fmt.Sprint(len(value)) {
		t.Errorf("secret size seen at build time: %q, want %d", got, len(value))
	}
	if got := read("/build-count"); got != "1" {
		t.Errorf("first build count %q", got)
	}
	_, second := deploy("two")
	if got := read("/build-count"); got != "2" {
		t.Errorf("second build count %q: the cache mount did not keep the first build's content", got)
	}
	if code, _ := get(t, s.addrs.HTTP, host, "/read?path=/run/secrets/token"); code == 200 {
		t.Error("the secret is in the image")
	}
	t.Logf("deploy with a cold cache mount %s, with a warm one %s", first.Round(time.Millisecond), second.Round(time.Millisecond))
}
