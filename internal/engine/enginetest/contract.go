package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// Option adjusts Run.
type Option func(*runConfig)

type runConfig struct{ runtime, commands bool }

// WithoutRuntime runs only the parts of the contract that need no real
// processes or networking: no HTTP to the containers, no log contents,
// no signal handling, no process exits, no Dockerfile semantics. The Fake
// passes the contract with it.
func WithoutRuntime() Option { return func(c *runConfig) { c.runtime = false } }

// WithCommands, after WithoutRuntime, still runs the parts that run the
// test image's one-off commands to their end and read their output and
// exit code (a Swarm cluster runs them as tasks). The Fake runs no
// commands.
func WithCommands() Option { return func(c *runConfig) { c.commands = true } }

// Run runs the engine contract against the engine newEngine returns, using
// img (from BuildTestImage; for the Fake, register img.Ref → img.ID with
// exposed port 8080 first). Everything it creates carries a unique app
// label and is removed at the end.
func Run(t *testing.T, newEngine func(t *testing.T) engine.Engine, img TestImage, opts ...Option) {
	cfg := runConfig{runtime: true}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.commands = cfg.commands || cfg.runtime
	needsRuntime := func(t *testing.T) {
		t.Helper()
		if !cfg.runtime {
			t.Skip("needs real containers (WithoutRuntime)")
		}
	}
	e := newEngine(t)
	ctx := context.Background()
	var b [3]byte
	_, _ = rand.Read(b[:])
	app := "contract-" + hex.EncodeToString(b[:])
	netName := "berth-" + app
	t.Cleanup(func() {
		cs, _ := e.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
		for _, c := range cs {
			_ = e.RemoveContainer(context.Background(), c.ID)
		}
		if r, ok := e.(interface {
			RemoveNetwork(context.Context, string) error
		}); ok {
			_ = r.RemoveNetwork(context.Background(), netName)
		}
	})
	labels := func(svc string) map[string]string {
		return map[string]string{engine.LabelApp: app, engine.LabelEnv: "test", engine.LabelService: svc, engine.LabelRelease: "1"}
	}
	spec := func(name string, env ...string) engine.ContainerSpec {
		return engine.ContainerSpec{Name: app + "-" + name, Image: img.ID, Env: env, Labels: labels(name),
			Network: netName, Aliases: []string{name}, StopGrace: 5 * time.Second}
	}

	t.Run("Ping", func(t *testing.T) {
		info, err := e.Ping(ctx)
		if err != nil || info.Version == "" || info.APIVersion == "" {
			t.Fatalf("ping: %+v %v", info, err)
		}
	})
	t.Run("InspectImage", func(t *testing.T) {
		im, err := e.InspectImage(ctx, img.Ref)
		if err != nil || im.ID != img.ID {
			t.Fatalf("inspect %s: %+v %v", img.Ref, im, err)
		}
		if len(im.ExposedPorts) != 1 || im.ExposedPorts[0] != 8080 {
			t.Errorf("exposed ports %v, want [8080]", im.ExposedPorts)
		}
		if _, err := e.InspectImage(ctx, "berth-contract-missing:nope"); !errors.Is(err, engine.ErrImageNotFound) {
			t.Errorf("missing image: want ErrImageNotFound, got %v", err)
		}
	})
	if _, err := e.EnsureNetwork(ctx, netName, map[string]string{engine.LabelApp: app}); err != nil {
		t.Fatalf("ensure network: %v", err)
	}
	id2, err := e.EnsureNetwork(ctx, netName, nil)
	if err != nil || id2 == "" {
		t.Fatalf("ensure network again: %q %v", id2, err)
	}

	var web engine.Container
	t.Run("CreateContainer", func(t *testing.T) {
		web, err = e.CreateContainer(ctx, spec("web", "VERSION=contract"))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if !web.Running() || web.Addresses[netName] == "" || web.ImageID != img.ID {
			t.Fatalf("created container: %+v", web)
		}
		for k, v := range labels("web") {
			if web.Labels[k] != v {
				t.Errorf("label %s=%q, want %q", k, web.Labels[k], v)
			}
		}
		if web.Labels[engine.LabelManaged] != "true" {
			t.Errorf("missing %s label", engine.LabelManaged)
		}
		if _, err := e.CreateContainer(ctx, spec("web")); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("same name again: want ErrConflict, got %v", err)
		}
		missing := spec("noimage")
		missing.Image = "berth-contract-missing:nope"
		if _, err := e.CreateContainer(ctx, missing); !errors.Is(err, engine.ErrImageNotFound) || !strings.Contains(err.Error(), missing.Image) {
			t.Errorf("missing image: want ErrImageNotFound naming the image, got %v", err)
		}
	})
	if web.ID == "" {
		t.FailNow()
	}
	t.Run("ServesOnItsNetworkAddress", func(t *testing.T) {
		needsRuntime(t)
		addr := net.JoinHostPort(web.Addresses[netName], "8080")
		if body := httpGet(t, "http://"+addr+"/"); body != "contract" {
			t.Fatalf("body %q", body)
		}
		// Its alias resolves on the network (the engine's DNS).
		if body := httpGet(t, "http://"+addr+"/fetch?url=http://web:8080/"); body != "contract" {
			t.Fatalf("through its alias: body %q", body)
		}
	})
	t.Run("ListAndLogs", func(t *testing.T) {
		cs, err := e.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelService: "web"})
		if err != nil || len(cs) != 1 || cs[0].ID != web.ID {
			t.Fatalf("list: %+v %v", cs, err)
		}
		if cs, _ := e.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelService: "nope"}); len(cs) != 0 {
			t.Fatalf("label filter matched %d containers", len(cs))
		}
		rc, err := e.Logs(ctx, web.ID, engine.LogOptions{Tail: 10})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if _, err := e.Logs(ctx, "berth-contract-no-such-container", engine.LogOptions{}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("logs of a missing container: want ErrNotFound, got %v", err)
		}
		needsRuntime(t)
		if !strings.Contains(string(b), "testapp contract starting") {
			t.Fatalf("logs: %q", b)
		}
		rc, err = e.Logs(ctx, web.ID, engine.LogOptions{Tail: 1, Timestamps: true})
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(rc)
		rc.Close()
		stamp, line, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || strings.Contains(line, "\n") {
			t.Fatalf("one timestamped line: %q", b)
		}
	})
	t.Run("SetRestartPolicy", func(t *testing.T) {
		if err := e.SetRestartPolicy(ctx, web.ID, "unless-stopped"); err != nil {
			t.Fatal(err)
		}
		// A backend that reports the policy reports the one just set.
		if c, err := e.InspectContainer(ctx, web.ID); err != nil || (c.RestartPolicy != "" && c.RestartPolicy != "unless-stopped") {
			t.Errorf("after setting unless-stopped: policy %q, %v", c.RestartPolicy, err)
		}
		if err := e.SetRestartPolicy(ctx, "berth-contract-no-such-container", "no"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("missing container: want ErrNotFound, got %v", err)
		}
		needsRuntime(t)
		// Created with "no", switched to "on-failure": a crash restarts it.
		c, err := e.CreateContainer(ctx, spec("restarter", "VERSION=r"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.SetRestartPolicy(ctx, c.ID, "on-failure"); err != nil {
			t.Fatal(err)
		}
		addr := net.JoinHostPort(c.Addresses[netName], "8080")
		httpGet(t, "http://"+addr+"/up")
		_, _ = http.Get("http://" + addr + "/exit?code=3")
		waitFor(t, 20*time.Second, func() (bool, string) {
			c, err = e.InspectContainer(ctx, c.ID)
			return err == nil && c.RestartCount >= 1 && c.Running(), fmt.Sprintf("state %s restarts %d err %v", c.State, c.RestartCount, err)
		})
		if err := e.RemoveContainer(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("WatchSeesStartDieDestroy", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		events := e.Watch(wctx)
		c, err := e.CreateContainer(ctx, spec("watched", "VERSION=w"))
		if err != nil {
			t.Fatal(err)
		}
		next := func(want engine.EventType) engine.Event {
			t.Helper()
			for {
				select {
				case ev, ok := <-events:
					if !ok {
						t.Fatalf("watch closed before a %s event", want)
					}
					if ev.ContainerID == c.ID && ev.Type == want {
						if ev.Labels[engine.LabelApp] != app || ev.Labels[engine.LabelService] != "watched" {
							t.Errorf("%s event labels %v", want, ev.Labels)
						}
						return ev
					}
				case <-wctx.Done():
					t.Fatalf("no %s event from Watch", want)
				}
			}
		}
		next(engine.EventStart)
		if err := e.StopContainer(ctx, c.ID, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if ev := next(engine.EventDie); ev.ExitCode != 0 {
			t.Errorf("die event exit code %d, want 0", ev.ExitCode)
		}
		if err := e.RemoveContainer(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		next(engine.EventDestroy)
		cancel()
		for range events { // the channel closes when ctx ends
		}
	})
	t.Run("StopIsGracefulAndIdempotent", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		events := e.Watch(wctx)
		start := time.Now()
		if err := e.StopContainer(ctx, web.ID, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); cfg.runtime && took > 4*time.Second {
			t.Errorf("stop took %s: SIGTERM was not honoured", took)
		}
		c, err := e.InspectContainer(ctx, web.ID)
		if err != nil || c.Running() || c.ExitCode != 0 {
			t.Fatalf("after stop: state %s exit %d err %v", c.State, c.ExitCode, err)
		}
		if err := e.StopContainer(ctx, web.ID, time.Second); err != nil {
			t.Errorf("stopping a stopped container: %v", err)
		}
		for {
			select {
			case ev := <-events:
				if ev.ContainerID == web.ID && ev.Type == engine.EventDie && ev.Labels[engine.LabelApp] == app {
					return
				}
			case <-wctx.Done():
				t.Fatal("no die event from Watch")
			}
		}
	})
	t.Run("StopKillsAfterGrace", func(t *testing.T) {
		needsRuntime(t)
		// An app that ignores SIGTERM: only the kill after the grace
		// period stops it.
		s := spec("stubborn")
		s.Cmd = []string{"stubborn", "60"}
		c, err := e.CreateContainer(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := e.StopContainer(ctx, c.ID, time.Second); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 900*time.Millisecond || took > 10*time.Second {
			t.Errorf("stop with 1s grace took %s", took)
		}
		if c, err = e.InspectContainer(ctx, c.ID); err != nil || c.Running() || c.ExitCode != 137 {
			t.Fatalf("after the kill: state %s exit %d err %v, want exited 137", c.State, c.ExitCode, err)
		}
	})
	t.Run("StartFailureLeavesTheContainer", func(t *testing.T) {
		needsRuntime(t)
		s := spec("nostart")
		s.Entrypoint = []string{"/no-such-binary"}
		c, err := e.CreateContainer(ctx, s)
		if err == nil || c.ID == "" {
			t.Fatalf("start of a missing binary: container %q err %v; want an error and the container", c.ID, err)
		}
		if _, err := e.InspectContainer(ctx, c.ID); err != nil {
			t.Fatalf("the container is gone: %v", err)
		}
		if err := e.RemoveContainer(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ExitingContainer", func(t *testing.T) {
		needsRuntime(t)
		c, err := e.CreateContainer(ctx, spec("crash", "CRASH=1"))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for c.Running() || c.State == engine.StateCreated {
			if time.Now().After(deadline) {
				t.Fatalf("still %s", c.State)
			}
			time.Sleep(20 * time.Millisecond)
			if c, err = e.InspectContainer(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		if c.State != engine.StateExited || c.ExitCode != 1 {
			t.Fatalf("state %s exit %d, want exited 1", c.State, c.ExitCode)
		}
		// Following the logs of a stopped container ends at once.
		rc, err := e.Logs(ctx, c.ID, engine.LogOptions{Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !strings.Contains(string(b), "crashing on purpose") {
			t.Fatalf("logs: %q", b)
		}
	})
	// A one-off command (restart policy no: berth run, release commands,
	// scheduled jobs) that ends at once runs to its end: its output and
	// exit code are the command's, whether or not the engine saw it
	// running before it ended.
	t.Run("OneOffRunsToItsEnd", func(t *testing.T) {
		if !cfg.commands {
			t.Skip("runs no commands (WithoutRuntime without WithCommands)")
		}
		for _, want := range []int{0, 3} {
			s := spec(fmt.Sprintf("oneoff-%d", want))
			s.Cmd, s.RestartPolicy, s.Aliases = []string{"exit", strconv.Itoa(want)}, "no", nil
			var lines []string
			code, err := engine.RunOnce(ctx, e, s, func(l string) { lines = append(lines, l) })
			if err != nil || code != want {
				t.Fatalf("RunOnce of exit %d: code %d, err %v", want, code, err)
			}
			if got := strings.Join(lines, "\n"); got != fmt.Sprintf("exiting with %d", want) {
				t.Errorf("RunOnce of exit %d printed %q", want, got)
			}
		}
	})
	t.Run("Volumes", func(t *testing.T) {
		vol := app + "-data"
		removeVolumeLater(t, e, vol)
		for i := 0; i < 2; i++ {
			v, err := e.EnsureVolume(ctx, engine.VolumeSpec{Name: vol, Labels: map[string]string{engine.LabelApp: app}})
			if err != nil || v.Name != vol || v.Driver != "local" || len(v.Options) != 0 || v.Labels[engine.LabelApp] != app {
				t.Fatalf("ensure volume (%d): %+v %v", i, v, err)
			}
		}
		vs, err := e.ListVolumes(ctx, map[string]string{engine.LabelApp: app})
		if err != nil || len(vs) != 1 || vs[0].Name != vol {
			t.Fatalf("list volumes: %+v %v", vs, err)
		}
		if _, err := e.InspectVolume(ctx, app+"-missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("inspect a missing volume: %v, want ErrNotFound", err)
		}
	})
	t.Run("VolumeDriverOptions", func(t *testing.T) {
		// The local driver's options, as an NFS volume would give them
		// (type nfs, o addr=…, device :/path), for a tmpfs this host can
		// mount.
		vol := app + "-tmpfs"
		removeVolumeLater(t, e, vol)
		opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
		labels := map[string]string{engine.LabelApp: app, "team": "shop"}
		v, err := e.EnsureVolume(ctx, engine.VolumeSpec{Name: vol, Driver: "local", DriverOpts: opts, Labels: labels})
		if err != nil || v.Driver != "local" || !maps.Equal(v.Options, opts) || !maps.Equal(v.Labels, labels) {
			t.Fatalf("ensure volume: %+v %v", v, err)
		}
		if v, err = e.InspectVolume(ctx, vol); err != nil || v.Name != vol || v.Driver != "local" || !maps.Equal(v.Options, opts) || !maps.Equal(v.Labels, labels) {
			t.Fatalf("inspect volume: %+v %v", v, err)
		}
		// An existing volume is returned as it is, never changed.
		v, err = e.EnsureVolume(ctx, engine.VolumeSpec{Name: vol, DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}, Labels: map[string]string{engine.LabelApp: app}})
		if err != nil || !maps.Equal(v.Options, opts) || !maps.Equal(v.Labels, labels) {
			t.Fatalf("ensure an existing volume: %+v %v", v, err)
		}
		if v, err = e.InspectVolume(ctx, vol); err != nil || !maps.Equal(v.Options, opts) {
			t.Fatalf("inspect volume after a second ensure: %+v %v", v, err)
		}
	})
	t.Run("BuildImage", func(t *testing.T) {
		needsRuntime(t)
		tag := app + "-built:1"
		var lines []string
		id, err := e.BuildImage(ctx, tarOf(t, map[string]string{
			"Dockerfile": "FROM " + img.ID + "\nARG GREETING\nLABEL greeting=$GREETING\nCOPY hello.txt /hello.txt\n",
			"hello.txt":  "hi\n",
		}), engine.BuildOptions{Tags: []string{tag}, BuildArgs: map[string]string{"GREETING": "hello"}}, func(l string) { lines = append(lines, l) })
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		t.Cleanup(func() { _ = e.RemoveImage(context.Background(), id) })
		im, err := e.InspectImage(ctx, tag)
		if err != nil || im.ID != id || im.Labels["greeting"] != "hello" {
			t.Fatalf("built image: %+v %v", im, err)
		}
		if len(lines) == 0 {
			t.Error("no build output reported")
		}
		_, err = e.BuildImage(ctx, tarOf(t, map[string]string{"Dockerfile": "FROM " + img.ID + "\nCOPY missing.txt /\n"}), engine.BuildOptions{}, nil)
		if err == nil || !strings.Contains(err.Error(), "missing.txt") {
			t.Fatalf("failing build: %v", err)
		}
	})
	t.Run("RemoveIsIdempotent", func(t *testing.T) {
		if err := e.RemoveContainer(ctx, web.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.RemoveContainer(ctx, web.ID); err != nil {
			t.Errorf("second remove: %v", err)
		}
		if _, err := e.InspectContainer(ctx, web.ID); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("inspect removed container: want ErrNotFound, got %v", err)
		}
	})
}

// RequireEngine skips the test when e does not answer, or fails it when
// BERTH_REQUIRE_DOCKER=1 (CI), where a missing engine is an error. It
// skips in -short mode, which runs no engine tests.
func RequireEngine(t testing.TB, e engine.Engine) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a container engine; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.Ping(ctx); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("BERTH_REQUIRE_DOCKER=1 but the engine does not answer: %v", err)
		}
		t.Skipf("no container engine: %v", err)
	}
}

// removeVolumeLater removes the named volume when the test ends, through
// the backend's RemoveVolume (not part of engine.Engine: berth never
// removes a volume).
func removeVolumeLater(t *testing.T, e engine.Engine, name string) {
	t.Cleanup(func() {
		if r, ok := e.(interface {
			RemoveVolume(context.Context, string) error
		}); ok {
			_ = r.RemoveVolume(context.Background(), name)
		}
	})
}

// tarOf makes a build context from file contents.
func tarOf(t *testing.T, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// httpGet GETs url until it answers 200 (deadline 10s) and returns the body.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	var body string
	waitFor(t, 10*time.Second, func() (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%s: %q", resp.Status, b)
	})
	return body
}

// waitFor polls cond until it holds, failing the test with cond's last
// description after d.
func waitFor(t *testing.T, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not so after %s: %s", d, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
