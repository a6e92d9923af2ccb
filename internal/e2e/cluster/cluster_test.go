package cluster_test

import (
	"context"
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

	"github.com/docker/docker/api/types/filters"
	dswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/engine/swarm"
	"github.com/berth-dev/berth/internal/engine/swarm/swarmtest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

func TestMain(m *testing.M) { swarmtest.Main(m) }

// lab returns the swarm lab, skipping (or failing under
// BERTH_REQUIRE_SWARM=1) when it is not up, and the test image loaded
// into every node.
func lab(t *testing.T) (swarmtest.Lab, enginetest.TestImage) {
	t.Helper()
	l, img := labShared(t)
	waitLabQuiet(t, l)
	return l, img
}

// labShared is lab without waiting for the lab to be empty: for tests
// that do not care where Swarm places their tasks, and leave other tests'
// services alone.
func labShared(t *testing.T) (swarmtest.Lab, enginetest.TestImage) {
	t.Helper()
	l, ok := swarmtest.Load()
	if !ok || testing.Short() {
		if os.Getenv("BERTH_REQUIRE_SWARM") == "1" {
			t.Fatal("BERTH_REQUIRE_SWARM=1 but the swarm lab is not up: scripts/swarm-lab up")
		}
		t.Skip("needs the swarm lab: scripts/swarm-lab up")
	}
	swarmtest.RequireNode1(t)
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	swarmtest.LoadImage(t, l.Hosts, img)
	return l, img
}

type server struct {
	addrs   daemon.Addrs
	client  *apiclient.Client
	dataDir string
}

// startServer runs berth server --engine swarm against node1, in this
// process (which runs in node1's network namespace: the proxy reaches
// the tasks' published ports on the nodes' addresses).
func startServer(t *testing.T, l swarmtest.Lab, tune ...func(*daemon.Config)) *server {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan daemon.Addrs, 1)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := daemon.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Logger: logger,
		Engine: "swarm", DockerHost: l.Hosts[0], EventLoops: runtime.GOMAXPROCS(0),
		Ready: func(a daemon.Addrs) { ready <- a }}
	for _, f := range tune {
		f(&cfg)
	}
	go func() { done <- daemon.Run(ctx, cfg) }()
	s := &server{dataDir: dir}
	select {
	case s.addrs = <-ready:
	case err := <-done:
		t.Fatalf("berth server did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("berth server did not start within 60s")
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	tok, err := os.ReadFile(filepath.Join(dir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	s.client = apiclient.New("http://"+s.addrs.API, strings.TrimSpace(string(tok)))
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// compose writes a Compose file of a 6-replica web service on the
// test image and loads it.
func compose(t *testing.T, name, host, image, version string, extra map[string]string) *spec.App {
	t.Helper()
	return composeHealth(t, name, host, image, version, extra, "{ path: /up, interval: 200ms, timeout: 1s, deadline: 8s }")
}

// composeHealth is compose with health as the x-berth healthcheck.
func composeHealth(t *testing.T, name, host, image, version string, extra map[string]string, health string) *spec.App {
	t.Helper()
	var env strings.Builder
	fmt.Fprintf(&env, "      VERSION: %q\n", version)
	for k, v := range extra {
		fmt.Fprintf(&env, "      %s: %q\n", k, v)
	}
	y := fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment:
%s    stop_grace_period: 2s
    # Swarm gates each batch of a rolling update on the engine-run check.
    healthcheck: { test: ["CMD", "/testapp", "get", "http://127.0.0.1:8080/up"], interval: 500ms, timeout: 1s, retries: 2 }
    deploy:
      replicas: 6
      # One task in six may fail to start without failing the update (Engine
      # 20.10 now and then loses a task's network sandbox on a busy node).
      update_config: { parallelism: 2, order: start-first, failure_action: rollback, monitor: 1s, max_failure_ratio: 0.2 }
      rollback_config: { parallelism: 2, order: start-first }
    configs:
      - source: app_conf
        target: /etc/app/app.conf
    x-berth:
      port: 8080
      hosts: [%q]
      drain_timeout: 5s
      healthcheck: %s
configs:
  app_conf: { content: "greeting: hello from a swarm config" }
`, name, image, env.String(), host, health)
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, y)
	}
	return app
}

// load sends GETs through the proxy from 8 clients until stopped.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	bodies     sync.Map // body → count (*atomic.Int64)
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, proxyAddr, host string) *load {
	l := &load{stop: make(chan struct{})}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 8 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, "http://"+proxyAddr+"/", nil)
				req.Host = host
				resp, err := c.Do(req)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					l.fail(fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b))))
					continue
				}
				l.ok.Add(1)
				v, _ := l.bodies.LoadOrStore(string(b), new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, msg)
	}
	l.mu.Unlock()
}

func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// check stops the load and fails the test if any request failed.
func (l *load) check(t *testing.T, what string) {
	t.Helper()
	l.end()
	t.Logf("%s: %d requests, %d failed", what, l.ok.Load()+l.failed.Load(), l.failed.Load())
	if l.failed.Load() > 0 {
		t.Errorf("%s: %d of %d requests failed; first: %v", what, l.failed.Load(), l.ok.Load()+l.failed.Load(), l.errs)
	}
	if l.ok.Load() == 0 {
		t.Errorf("%s: no request succeeded", what)
	}
}

func get(t *testing.T, proxyAddr, host string) (int, string) {
	t.Helper()
	return getPath(t, proxyAddr, host, "/")
}

func getPath(t *testing.T, proxyAddr, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+proxyAddr+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func deploy(t *testing.T, s *server, app *spec.App) (*dto.Deployment, []string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var lines []string
	dep, err := s.client.Deploy(ctx, app, spec.DefaultEnv, dto.DeployOptions{}, func(p dto.Progress) {
		t.Logf("deploy %s: %6.3fs %s", app.Name, p.Elapsed.Seconds(), p.Message)
		lines = append(lines, p.Message)
	})
	return dep, lines, err
}

func removeApp(t *testing.T, l swarmtest.Lab, name string) {
	t.Cleanup(func() {
		b, err := swarm.New(swarm.Options{Host: l.Hosts[0]})
		if err != nil {
			t.Errorf("remove %s: %v", name, err)
			return
		}
		defer b.Close()
		// Removal waits for the tasks to settle (up to ~45 s after a node
		// came back): give it room.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := b.RemoveWorkload(ctx, name+"-production-web"); err != nil {
			t.Errorf("remove %s: %v", name, err)
		}
		_ = b.RemoveNetwork(ctx, "berth-"+name+"-production")
	})
}

// waitLabQuiet waits until every node is Ready and active and no berth
// service or task of an earlier test is left, so a test's tasks are
// placed on a cluster in its resting state (Swarm spreads a new service
// by what each node already runs).
func waitLabQuiet(t *testing.T, l swarmtest.Lab) {
	t.Helper()
	dc, err := client.NewClientWithOpts(client.WithHost(l.Hosts[0]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	waitLabHealthy(t, dc, len(l.Hosts), 2*time.Minute)
	managed := filters.NewArgs(filters.Arg("label", "berth.managed=true"))
	// What an earlier, interrupted run left behind goes first.
	if svcs, err := dc.ServiceList(context.Background(), dswarm.ServiceListOptions{Filters: managed}); err == nil && len(svcs) > 0 {
		b, err := swarm.New(swarm.Options{Host: l.Hosts[0]})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs {
			t.Logf("removing %s, left by an earlier run", s.Spec.Name)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			if err := b.RemoveWorkload(ctx, s.Spec.Name); err != nil {
				t.Errorf("remove %s: %v", s.Spec.Name, err)
			}
			cancel()
		}
		b.Close()
	}
	testutil.Eventually(t, 2*time.Minute, "no berth service or task left in the lab", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svcs, err := dc.ServiceList(ctx, dswarm.ServiceListOptions{Filters: managed})
		if err != nil || len(svcs) > 0 {
			return false
		}
		tasks, err := dc.TaskList(ctx, dswarm.TaskListOptions{})
		if err != nil {
			return false
		}
		for _, tk := range tasks {
			if tk.Status.State == dswarm.TaskStateRunning || tk.DesiredState == dswarm.TaskStateRunning {
				return false
			}
		}
		return true
	})
}
