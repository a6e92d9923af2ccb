package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// berthBinary builds cmd/berth once per test.
func berthBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "berth")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/berth")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build berth: %v\n%s", err, out)
	}
	return bin
}

// runBerthServer starts the real binary and returns its process and API
// and proxy addresses.
func runBerthServer(t *testing.T, bin, dir, httpAddr, apiAddr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--http-addr", httpAddr, "--api-addr", apiAddr, "--log-level", "warn")
	// A file, not a pipe: nothing stops reading it when the test is done
	// with the process.
	logf, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if left := serverPIDs(dir); len(left) > 0 {
			t.Errorf("berth server processes of %s left: %v", dir, left)
		}
	})
	testutil.Eventually(t, 30*time.Second, "server answering", func() bool {
		_, err := os.Stat(filepath.Join(dir, "admin-token"))
		if err != nil {
			return false
		}
		c := apiclient.New("http://"+apiAddr, readToken(t, dir))
		_, err = c.Apps(context.Background())
		return err == nil
	})
	return cmd
}

func readToken(t *testing.T, dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "admin-token"))
	return strings.TrimSpace(string(b))
}

func TestServer_KilledMidDeployResumesConsistent(t *testing.T) {
	eng := requireDocker(t)
	bin := berthBinary(t)
	dir := t.TempDir()
	httpAddr, apiAddr := freeAddr(t), freeAddr(t)
	srv := runBerthServer(t, bin, dir, httpAddr, apiAddr)
	name, host := newApp(t, eng)
	c := apiclient.New("http://"+apiAddr, readToken(t, dir))
	ctx := context.Background()
	if _, err := c.Deploy(ctx, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1}), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	// A release that is still waiting for its health check when berth is
	// killed with SIGKILL.
	started := make(chan struct{})
	go func() {
		_, _ = c.Deploy(ctx, loadApp(t, name, host, appOpts{Version: "v2", Replicas: 1, Env: map[string]string{"UNHEALTHY": "1"}, Deadline: "60s"}), spec.DefaultEnv, dto.DeployOptions{}, func(p dto.Progress) {
			if strings.HasPrefix(p.Message, "starting web") {
				select {
				case <-started:
				default:
					close(started)
				}
			}
		})
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the second deploy did not start its containers")
	}
	_ = srv.Process.Signal(syscall.SIGKILL)
	_ = srv.Wait()
	// v1 keeps its container; the half-started v2 container exists.
	runBerthServer(t, bin, dir, httpAddr, apiAddr)
	c = apiclient.New("http://"+apiAddr, readToken(t, dir))
	rels, err := c.Releases(ctx, name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	if rels[0].ID != 2 || rels[0].Status != "failed" || !strings.Contains(rels[0].Reason, "berth stopped") || rels[1].Status != "live" {
		t.Fatalf("releases after the kill: %+v", rels)
	}
	deps, _ := c.Deployments(ctx, name, spec.DefaultEnv, 1)
	if len(deps) != 1 || deps[0].Status != "interrupted" {
		t.Fatalf("deployment after the kill: %+v", deps)
	}
	testutil.Eventually(t, 20*time.Second, "v2's containers removed", func() bool {
		cs, _ := eng.ListContainers(ctx, map[string]string{"berth.app": name, "berth.release": "2"})
		return len(cs) == 0
	})
	if code, body := get(t, httpAddr, host, "/"); code != 200 || body != "v1" {
		t.Fatalf("after the restart: %d %q", code, body)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
