package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// startRegistry runs Debian's Distribution registry on loopback with
// htpasswd auth and returns its host:port.
func startRegistry(t *testing.T, user, pass string) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	htpasswd, err2 := exec.LookPath("htpasswd")
	if err != nil || err2 != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("docker-registry and htpasswd are needed (apt-get install docker-registry apache2-utils): %v %v", err, err2)
		}
		t.Skip("docker-registry or htpasswd missing")
	}
	dir := t.TempDir()
	out, err := exec.Command(htpasswd, "-Bbn", user, pass).Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: %s/data }, delete: { enabled: true } }
http: { addr: %s }
auth: { htpasswd: { realm: berth-test, path: %s/htpasswd } }
`, dir, addr, dir)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	testutil.Eventually(t, 10*time.Second, "registry answering", func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	return addr, stop
}

func TestRegistry_PushAfterBuildPullWithCredentialsSurviveOutage(t *testing.T) {
	eng := requireDocker(t)
	reg, stopRegistry := startRegistry(t, "robot", "s3cret-token")
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	repo := reg + "/" + name + "/web"
	t.Cleanup(func() {
		_ = exec.Command("sh", "-c", "docker images --format '{{.Repository}}:{{.Tag}}' | grep '^"+repo+":' | xargs -r docker rmi").Run()
	})

	// Credentials go in on stdin, never on the command line.
	r, w, _ := os.Pipe()
	go func() { w.WriteString("s3cret-token\n"); w.Close() }()
	old := os.Stdin
	os.Stdin = r
	code, out, errOut := s.berth(t, "registry", "add", reg, "--username", "robot", "--password-stdin")
	os.Stdin = old
	if code != 0 {
		t.Fatalf("registry add: %s %s", out, errOut)
	}
	if _, out, _ := s.berth(t, "registry", "list", "-o", "json"); strings.Contains(out, "s3cret") || !strings.Contains(out, "robot") {
		t.Fatalf("registry list: %s", out)
	}

	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+image(t).ID+"\nENV VERSION=from-registry\n"), 0o644)
	compose := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+repo+`
    build: `+dir+`
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
`)
	code, out, errOut = s.berth(t, "deploy", "-f", compose)
	if code != 0 || !strings.Contains(out, "pushed "+repo+":") {
		t.Fatalf("deploy with push: %d\n%s\n%s", code, out, errOut)
	}
	rels, _ := s.client.Releases(context.Background(), name, "production")
	ref := rels[0].Services["web"].Image

	// Untag it here (the running container keeps the image itself): a deploy of the reference pulls it with the stored
	// credentials.
	if out, err := exec.Command("docker", "rmi", "-f", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker rmi %s: %v %s", ref, err, out)
	}
	byRef := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+ref+`
    environment: { VERSION: pulled }
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
`)
	code, out, errOut = s.berth(t, "deploy", "-f", byRef)
	if code != 0 || !strings.Contains(out, "pulling "+ref) {
		t.Fatalf("deploy pulling with credentials: %d\n%s\n%s", code, out, errOut)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "pulled" {
		t.Fatalf("after the pull: %q", body)
	}

	// The registry goes down: rolling back and redeploying images already
	// on the host still work.
	stopRegistry()
	if code, out, errOut := s.berth(t, "rollback", name); code != 0 {
		t.Fatalf("rollback with the registry down: %s %s", out, errOut)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "from-registry" {
		t.Fatalf("after rollback: %q", body)
	}
	if code, out, errOut := s.berth(t, "deploy", "-f", byRef); code != 0 {
		t.Fatalf("redeploy with the registry down: %s %s", out, errOut)
	}
}
