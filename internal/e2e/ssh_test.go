package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/testutil"
)

// startSSHD runs OpenSSH's sshd on loopback for root, accepting only
// clientKey, and returns its port.
func startSSHD(t *testing.T, clientPub string) int {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/sshd"} {
			if _, err2 := os.Stat(p); err2 == nil {
				sshd, err = p, nil
			}
		}
	}
	if err != nil || os.Geteuid() != 0 {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("sshd (openssh-server) is needed, as root: %v", err)
		}
		t.Skip("sshd missing or not root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_key")).CombinedOutput(); err != nil {
		t.Fatalf("host key: %v %s", err, out)
	}
	_ = os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(clientPub), 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile %s/sshd.pid\n", port, dir, dir, dir)
	_ = os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	_ = os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testutil.Eventually(t, 10*time.Second, "sshd listening", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port
}

func TestPipeline_SSHRepositoryWithADeployKey(t *testing.T) {
	eng := requireDocker(t)
	keyDir := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(keyDir, "deploy")).CombinedOutput(); err != nil {
		t.Fatalf("deploy key: %v %s", err, out)
	}
	pub, _ := os.ReadFile(filepath.Join(keyDir, "deploy.pub"))
	port := startSSHD(t, string(pub))
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)

	root := t.TempDir()
	gitCmd(t, root, "init", "--quiet", "--bare", "--initial-branch=main", "shop.git")
	work := t.TempDir()
	gitCmd(t, work, "init", "--quiet", "--initial-branch=main")
	_ = os.WriteFile(filepath.Join(work, "Dockerfile"), []byte("FROM "+image(t).ID+"\nENV VERSION=over-ssh\n"), 0o644)
	_ = os.WriteFile(filepath.Join(work, "compose.yaml"), []byte(`name: `+name+`
services:
  web:
    build: .
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
`), 0o644)
	gitCmd(t, work, "add", ".")
	gitCmd(t, work, "commit", "--quiet", "-m", "first")
	gitCmd(t, work, "push", "--quiet", filepath.Join(root, "shop.git"), "main")
	commit := gitCmd(t, work, "rev-parse", "HEAD")

	repo := fmt.Sprintf("ssh://root@127.0.0.1:%d%s/shop.git", port, root)
	code, out, errOut := s.berth(t, "apps", "connect", name, "--repo", repo, "--ssh-key", filepath.Join(keyDir, "deploy"))
	if code != 0 {
		t.Fatalf("connect: %s %s", out, errOut)
	}
	ctx := context.Background()
	secret := lastField(out, "Secret:")
	_, hr := githubHook(t, "http://"+s.addrs.API+"/hooks/"+name, secret, "ssh-1", "main", commit)
	var b dto.Build
	testutil.Eventually(t, 90*time.Second, "build ends", func() bool {
		b, _ = s.client.GetBuild(ctx, hr.BuildID)
		return b.Done()
	})
	if b.Status != "succeeded" {
		t.Fatalf("build over ssh: %s %s\n%v", b.Status, b.Error, b.Log)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "over-ssh" {
		t.Fatalf("serving %q", body)
	}
}

func lastField(out, label string) string {
	var v string
	for _, line := range splitLines(out) {
		if f := fieldsAfter(line, label); f != "" {
			v = f
		}
	}
	return v
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func fieldsAfter(line, label string) string {
	_, after, ok := strings.Cut(line, label)
	if !ok {
		return ""
	}
	return strings.TrimSpace(after)
}
