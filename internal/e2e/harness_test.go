package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// requireDocker returns a client of the real engine, skipping the test
// when none answers (failing it when BERTH_REQUIRE_DOCKER=1).
func requireDocker(t *testing.T) *docker.Backend {
	t.Helper()
	b, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	enginetest.RequireEngine(t, b)
	return b
}

var (
	imageOnce sync.Once
	testImage enginetest.TestImage
)

func image(t *testing.T) enginetest.TestImage {
	t.Helper()
	imageOnce.Do(func() { testImage = enginetest.BuildTestImage(t, "berth-e2e-app:latest") })
	if testImage.Ref == "" {
		t.Fatal("test image was not built")
	}
	return testImage
}

// server is a berth daemon running in-process.
type server struct {
	t       *testing.T
	dataDir string
	addrs   daemon.Addrs
	client  *apiclient.Client
	logs    *testutil.SyncBuffer // everything the daemon logged
	cancel  context.CancelFunc
	done    chan error
}

func startServer(t *testing.T, dataDir string) *server {
	t.Helper()
	return startServerWith(t, dataDir, nil)
}

// startServerWith starts a daemon whose configuration tune adjusts.
func startServerWith(t *testing.T, dataDir string, tune func(*daemon.Config)) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, dataDir: dataDir, cancel: cancel, done: make(chan error, 1), logs: &testutil.SyncBuffer{}}
	ready := make(chan daemon.Addrs, 1)
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(newTestWriter(t), s.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := daemon.Config{
		DataDir: dataDir, HTTPAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Logger: logger,
		EventLoops: runtime.GOMAXPROCS(0), // as berth server runs by default
		Ready:      func(a daemon.Addrs) { ready <- a },
	}
	if tune != nil {
		tune(&cfg)
	}
	go func() { s.done <- daemon.Run(ctx, cfg) }()
	select {
	case s.addrs = <-ready:
	case err := <-s.done:
		t.Fatalf("berth server did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("berth server did not start within 60s")
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	s.client = apiclient.New("http://"+s.addrs.API, strings.TrimSpace(string(tok)))
	t.Cleanup(s.stop)
	servers.mu.Lock()
	servers.of[t] = append(servers.of[t], s)
	servers.mu.Unlock()
	return s
}

// servers are the daemons each test started, so that its app clean-up
// stops them first: a running berth would replace the containers the
// clean-up removes (self-healing).
var servers = struct {
	mu sync.Mutex
	of map[*testing.T][]*server
}{of: map[*testing.T][]*server{}}

// stopServersOf stops the daemons t started (stopping one twice is
// nothing).
func stopServersOf(t *testing.T) {
	servers.mu.Lock()
	ss := servers.of[t]
	delete(servers.of, t)
	servers.mu.Unlock()
	for _, s := range ss {
		s.stop()
	}
}

// stop stops the daemon (containers keep running) and waits for it.
func (s *server) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("berth server: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Error("berth server did not stop within 30s")
	}
}

// testWriter sends the daemon's log to the test log until the test ends.
type testWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, done: new(atomic.Bool)}
	t.Cleanup(func() { w.done.Store(true) })
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// newApp returns a unique app name and its host, and removes the app's
// containers and network when the test ends.
func newApp(t *testing.T, eng *docker.Backend) (name, host string) {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	name = "e2e-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		stopServersOf(t)
		removeApp(eng, name)
	})
	return name, name + ".test"
}

// waitOldGone waits until app's old releases have left: the containers
// of any release but rel (one-off commands and stateful services aside)
// are removed. A deploy returns at its switch; the old release drains and
// its containers stop in the background.
func waitOldGone(t *testing.T, eng *docker.Backend, app, rel string) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, "the containers of "+app+"'s old releases removed", func() bool {
		cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
		if err != nil {
			return false
		}
		for _, c := range cs {
			if c.Labels[engine.LabelRelease] != rel && c.Labels[deploy.LabelOneOff] != "true" && c.Labels[deploy.LabelStateful] != "true" {
				return false
			}
		}
		return true
	})
}

// removeApp removes an app's containers and network.
func removeApp(eng *docker.Backend, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name})
	for _, c := range cs {
		_ = eng.RemoveContainer(ctx, c.ID)
	}
	_ = eng.RemoveNetwork(ctx, deploy.NetworkName(name, spec.DefaultEnv))
}

// appFile writes a Compose file for the test image and loads it.
type appOpts struct {
	Version    string
	Replicas   int
	Port       int
	Env        map[string]string
	Deadline   string
	StopGrace  string
	ExtraImage string
	Drain      string // x-berth.drain_timeout (default 5s)
	// ReplaceAfter is x-berth.healthcheck.replace_after (default: the
	// spec's).
	ReplaceAfter string
	// Autoscale is x-berth.autoscale as a YAML flow mapping.
	Autoscale string
	// CPUs is deploy.resources.limits.cpus ("" for none).
	CPUs    string
	Restart string // the service's restart: (default: none, berth's unless-stopped)
}

func loadApp(t *testing.T, name, host string, o appOpts) *spec.App {
	t.Helper()
	p := appFile(t, name, host, o)
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		b, _ := os.ReadFile(p)
		t.Fatalf("load compose file: %v\n%s", err, b)
	}
	return app
}

// appFile writes the test app's Compose file (see loadApp) and returns
// its path.
func appFile(t *testing.T, name, host string, o appOpts) string {
	t.Helper()
	img := o.ExtraImage
	if img == "" {
		img = image(t).Ref
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.Port == 0 {
		o.Port = 8080
	}
	if o.Deadline == "" {
		o.Deadline = "20s"
	}
	if o.StopGrace == "" {
		o.StopGrace = "5s"
	}
	if o.Drain == "" {
		o.Drain = "5s"
	}
	replaceAfter := ""
	if o.ReplaceAfter != "" {
		replaceAfter = ", replace_after: " + o.ReplaceAfter
	}
	cpus := ""
	if o.CPUs != "" {
		cpus = "      resources: { limits: { cpus: \"" + o.CPUs + "\" } }\n"
	}
	autoscale := ""
	if o.Autoscale != "" {
		autoscale = "      autoscale: " + o.Autoscale + "\n"
	}
	var env strings.Builder
	restart := ""
	if o.Restart != "" {
		restart = "    restart: " + o.Restart + "\n"
	}
	fmt.Fprintf(&env, "      VERSION: %q\n", o.Version)
	for k, v := range o.Env {
		fmt.Fprintf(&env, "      %s: %q\n", k, v)
	}
	y := fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment:
%s%s    stop_grace_period: %s
    deploy:
      replicas: %d
%s    x-berth:
      port: %d
      hosts: [%q]
      drain_timeout: %s
      healthcheck: { path: /up, interval: 200ms, timeout: 1s, deadline: %s%s }
%s`, name, img, env.String(), restart, o.StopGrace, o.Replicas, cpus, o.Port, host, o.Drain, o.Deadline, replaceAfter, autoscale)
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *server) deploy(t *testing.T, app *spec.App) (*dto.Deployment, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.client.Deploy(ctx, app, spec.DefaultEnv, dto.DeployOptions{}, func(p dto.Progress) {
		t.Logf("deploy %s: %6.3fs %s", app.Name, p.Elapsed.Seconds(), p.Message)
	})
}

// deployment returns app's deployment id as the server records it now.
func (s *server) deployment(t *testing.T, app string, id int64) *dto.Deployment {
	t.Helper()
	deps, err := s.client.Deployments(context.Background(), app, spec.DefaultEnv, 50)
	if err != nil {
		t.Fatalf("deployments of %s: %v", app, err)
	}
	for i := range deps {
		if deps[i].ID == id {
			return &deps[i]
		}
	}
	t.Fatalf("deployment %d of %s not found", id, app)
	return nil
}

func (s *server) rollback(t *testing.T, app string, to int64) (*dto.Deployment, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.client.Rollback(ctx, app, spec.DefaultEnv, to, dto.DeployOptions{}, func(p dto.Progress) {
		t.Logf("rollback %s: %6.3fs %s", app, p.Elapsed.Seconds(), p.Message)
	})
}

// get sends one request through the proxy and returns status and body.
func get(t *testing.T, proxyAddr, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+proxyAddr+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
