package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

func TestDeploy_UpgradeUnderLoadDropsNothing(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)

	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatalf("deploy v1: %v", err)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
		t.Fatalf("after v1: %d %q", code, body)
	}

	l := startLoad(s.addrs.HTTP, host, 32)
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.count("v1") > 200 })
	dep, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v2"}))
	switched := time.Now()
	if err != nil {
		l.stop()
		t.Fatalf("deploy v2: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "load after switch", func() bool { return l.count("v2") > 200 })
	l.stop()
	t.Logf("load: %s", l.summary())
	if l.failed.Load() != 0 {
		t.Fatalf("requests failed during the deploy: %s", l.summary())
	}
	if last := l.lastStarted("v1"); last.After(switched) {
		t.Fatalf("a request started %s after the deploy returned was answered by v1", last.Sub(switched))
	}
	if dep.Failed != 0 || dep.Served == 0 {
		t.Fatalf("deployment record: served %d failed %d", dep.Served, dep.Failed)
	}
	if len(dep.Timeline) == 0 {
		t.Fatal("deployment record has no timeline")
	}
	// Only v2's containers remain, once v1's drained.
	waitOldGone(t, eng, name, "2")
	cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Labels[engine.LabelRelease] != "2" {
			t.Errorf("container %s of release %s still exists after the deploy", c.Name, c.Labels[engine.LabelRelease])
		}
		if !strings.HasPrefix(c.Name, name+"-") {
			t.Errorf("container name %q does not start with the app name", c.Name)
		}
	}
	if len(cs) != 2 {
		t.Errorf("want 2 containers, got %d", len(cs))
	}
}

func TestDeploy_RefusedReleasesKeepTheLiveOneServing(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatalf("deploy v1: %v", err)
	}
	cases := []struct {
		name string
		opts appOpts
		want []string
	}{
		{"never healthy", appOpts{Version: "bad", Env: map[string]string{"UNHEALTHY": "1"}, Deadline: "2s"},
			[]string{"health check GET /up did not pass", "status 500"}},
		{"exits at once", appOpts{Version: "bad", Env: map[string]string{"CRASH": "1"}},
			[]string{"exited with code 1", "crashing on purpose"}},
		{"wrong port", appOpts{Version: "bad", Port: 9999, Deadline: "2s"},
			[]string{"nothing is listening on port 9999"}},
		{"missing image", appOpts{Version: "bad", ExtraImage: "127.0.0.1:1/berth-e2e-missing:nope"},
			[]string{`image 127.0.0.1:1/berth-e2e-missing:nope (service "web") is not on this host and could not be pulled`, "check that 127.0.0.1:1 answers", "docker pull 127.0.0.1:1/berth-e2e-missing:nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := startLoad(s.addrs.HTTP, host, 32)
			_, err := s.deploy(t, loadApp(t, name, host, tc.opts))
			testutil.Eventually(t, 5*time.Second, "load after refusal", func() bool { return l.count("v1") > 100 })
			l.stop()
			var de *apiclient.DeployError
			if !errors.As(err, &de) {
				t.Fatalf("deploy of a bad release: want a refused deployment, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "keeps serving") {
				t.Errorf("error does not say the live release keeps serving:\n%v", err)
			}
			if l.failed.Load() != 0 || l.count("bad") != 0 {
				t.Fatalf("live release disturbed: %s", l.summary())
			}
			rels, err := s.client.Releases(context.Background(), name, spec.DefaultEnv)
			if err != nil {
				t.Fatal(err)
			}
			if rels[0].Status != "failed" || rels[0].Reason == "" {
				t.Errorf("newest release: status %s reason %q, want failed with a reason", rels[0].Status, rels[0].Reason)
			}
			cs, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
			for _, c := range cs {
				if c.Labels[engine.LabelRelease] != "1" {
					t.Errorf("container %s of the refused release was not removed", c.Name)
				}
			}
		})
	}
}

func TestRollback_UnderLoadDropsNothing(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	for _, v := range []string{"v1", "v2"} {
		if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: v})); err != nil {
			t.Fatalf("deploy %s: %v", v, err)
		}
	}
	l := startLoad(s.addrs.HTTP, host, 32)
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.count("v2") > 200 })
	dep, err := s.rollback(t, name, 0)
	back := time.Now()
	if err != nil {
		l.stop()
		t.Fatalf("rollback: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "load after rollback", func() bool { return l.count("v1") > 200 })
	l.stop()
	t.Logf("load: %s", l.summary())
	if l.failed.Load() != 0 {
		t.Fatalf("requests failed during the rollback: %s", l.summary())
	}
	if last := l.lastStarted("v2"); last.After(back) {
		t.Fatalf("a request started after the rollback returned was answered by v2")
	}
	if dep.ReleaseID != 1 || dep.Kind != "rollback" {
		t.Fatalf("rollback deployment: release %d kind %s", dep.ReleaseID, dep.Kind)
	}
	rels, _ := s.client.Releases(context.Background(), name, spec.DefaultEnv)
	got := map[int64]string{}
	for _, r := range rels {
		got[r.ID] = string(r.Status)
	}
	if got[1] != "live" || got[2] != "rolled_back" {
		t.Fatalf("release statuses after rollback: %v", got)
	}
	// Roll forward again by number.
	if _, err := s.rollback(t, name, 2); err != nil {
		t.Fatalf("rollback --to 2: %v", err)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "v2" {
		t.Fatalf("after rollback --to 2: %q", body)
	}
}

func TestServer_RestartKeepsRouting(t *testing.T) {
	eng := requireDocker(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	before, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
	s.stop()
	// Stopping berth never stops the app.
	for _, c := range before {
		ci, err := eng.InspectContainer(context.Background(), c.ID)
		if err != nil || !ci.Running() {
			t.Fatalf("container %s after berth stopped: %v %v", c.Name, ci.State, err)
		}
	}
	s2 := startServer(t, dir)
	for i := 0; i < 50; i++ {
		if code, body := get(t, s2.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
			t.Fatalf("after restart, request %d: %d %q", i, code, body)
		}
	}
	after, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
	if len(after) != len(before) {
		t.Fatalf("containers before restart %d, after %d", len(before), len(after))
	}
	st, err := s2.client.Status(context.Background(), name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	if st.Live == nil || st.Live.ID != 1 || len(st.Services) != 1 || len(st.Services[0].Containers) != 2 {
		t.Fatalf("status after restart: %+v", st)
	}
	for _, c := range st.Services[0].Containers {
		if c.Health != "healthy" {
			t.Errorf("container %s health %q after restart", c.Name, c.Health)
		}
	}
}

func TestDeploy_ConcurrentDeploysDoNotInterleave(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	app := loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.deploy(t, app)
		}()
	}
	wg.Wait()
	ok, busy := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apiclient.IsStatus(err, http.StatusConflict) && strings.Contains(err.Error(), "already running"):
			busy++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	// Either the second was refused, or the first had finished already.
	if ok+busy != 2 || ok == 0 {
		t.Fatalf("ok %d busy %d", ok, busy)
	}
}

func TestAPI_RequiresToken(t *testing.T) {
	requireDocker(t)
	s := startServer(t, t.TempDir())
	for _, tok := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.API+"/api/v1/apps", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("token %q: status %d content type %q", tok, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if _, err := s.client.Apps(context.Background()); err != nil {
		t.Fatalf("with the admin token: %v", err)
	}
}

func TestServer_LeavesOtherServersAppsAlone(t *testing.T) {
	eng := requireDocker(t)
	mine := startServer(t, t.TempDir())
	other := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := mine.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	// The other server sees the containers' events and resyncs; it must
	// not adopt or remove what it did not deploy.
	for i := 0; i < 3; i++ {
		if _, err := mine.deploy(t, loadApp(t, name, host, appOpts{Version: "v" + string(rune('2'+i)), Replicas: 1})); err != nil {
			t.Fatalf("deploy %d while another server watches: %v", i+2, err)
		}
	}
	if code, body := get(t, mine.addrs.HTTP, host, "/"); code != 200 || body != "v4" {
		t.Fatalf("%d %q", code, body)
	}
	if apps, err := other.client.Apps(context.Background()); err != nil || len(apps) != 0 {
		t.Fatalf("the other server lists %v (%v)", apps, err)
	}
	if code, _ := get(t, other.addrs.HTTP, host, "/"); code != http.StatusNotFound {
		t.Fatalf("the other server routes the app: %d", code)
	}
}

func TestDeploy_InFlightRequestsFinishOnTheOldRelease(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	// A request that takes 1.5s is in flight on v1 when v2 goes live: the
	// drain lets it finish before v1 gets SIGTERM.
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	sent := time.Now()
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.HTTP+"/slow?ms=1500", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b)}
	}()
	testutil.Eventually(t, 5*time.Second, "slow request in flight", func() bool {
		st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
		return err == nil && len(st.Services) == 1 && len(st.Services[0].Containers) == 1 && st.Services[0].Containers[0].InFlight == 1
	})
	dep, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v2", Replicas: 1}))
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != 200 || r.body != "v1" {
		t.Fatalf("in-flight request across the switch: %d %q", r.code, r.body)
	}
	// The drain goes on in the background after the deploy returned and
	// ends once the request is answered: not before the app's 1.5s were
	// over (however late after the request the drain began). Its outcome
	// is added to the deployment's timeline.
	var drainedAt time.Time
	testutil.Eventually(t, 30*time.Second, "the drain of release 1 on the deployment's timeline", func() bool {
		d := s.deployment(t, name, dep.ID)
		for _, st := range d.Timeline {
			if strings.HasPrefix(st.Message, "in the background: drained web release 1 in ") {
				drainedAt = st.At
				return true
			}
		}
		return false
	})
	if d := drainedAt.Sub(sent); d < 1500*time.Millisecond {
		t.Errorf("the drain ended %v after the 1.5s request was sent: it did not wait for it", d)
	}
}

func TestMaintenance_OnDeployOffAcrossARestart(t *testing.T) {
	eng := requireDocker(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	page := writeFile(t, "maint.html", "<h1>back at noon</h1>")
	if code, out, errOut := s.berth(t, "maintenance", "on", name, "--page", page); code != 0 {
		t.Fatalf("maintenance on: %s %s", out, errOut)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/"); code != 503 || body != "<h1>back at noon</h1>" {
		t.Fatalf("in maintenance: %d %q", code, body)
	}
	// Deploys go on behind it; a restart keeps it.
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v2", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	s.stop()
	s = startServer(t, dir)
	if code, _ := get(t, s.addrs.HTTP, host, "/"); code != 503 {
		t.Fatalf("after a restart: %d", code)
	}
	if _, out, _ := s.berth(t, "status", name); !strings.Contains(out, "IN MAINTENANCE") {
		t.Fatalf("status: %s", out)
	}
	s.berth(t, "maintenance", "off", name)
	if code, body := get(t, s.addrs.HTTP, host, "/"); code != 200 || body != "v2" {
		t.Fatalf("after maintenance: %d %q", code, body)
	}
}
