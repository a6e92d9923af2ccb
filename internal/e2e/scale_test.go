package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// scale scales app's services through the API, logging its progress.
func (s *server) scale(t *testing.T, app string, targets ...dto.ScaleTarget) (*dto.Deployment, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.client.Scale(ctx, app, spec.DefaultEnv, targets, func(p dto.Progress) {
		t.Logf("scale %s: %6.3fs %s", app, p.Elapsed.Seconds(), p.Message)
	})
}

// runningOf counts app's running containers.
func runningOf(t *testing.T, eng *docker.Backend, app string) int {
	t.Helper()
	cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		if c.Running() {
			n++
		}
	}
	return n
}

// indexOf is the replica number in a container's name
// (APP-ENV-SERVICE-rREL-INDEX-SUFFIX).
func indexOf(name string) int {
	parts := strings.Split(name, "-")
	if len(parts) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(parts[len(parts)-2])
	return n
}

// holdLong sends GET /slow?ms=… through the proxy until one is in flight
// on a container that pick accepts (the status's in-flight count of that
// container stays at 1 or more over several polls, which the paced load
// alone does not keep up), and returns the answers of all it sent.
func holdLong(t *testing.T, s *server, name, host string, ms int, pick func(container string) bool) []<-chan heldAnswer {
	t.Helper()
	var out []<-chan heldAnswer
	for range 10 {
		ch := make(chan heldAnswer, 1)
		out = append(out, ch)
		go func() {
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.HTTP+"/slow?ms="+strconv.Itoa(ms), nil)
			req.Host = host
			c := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Minute}
			defer c.CloseIdleConnections()
			resp, err := c.Do(req)
			if err != nil {
				ch <- heldAnswer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			ch <- heldAnswer{code: resp.StatusCode, body: string(b), err: err}
		}()
		// A container holds as many long requests as its in-flight count
		// stays at over 8 polls (200ms): the paced load's requests come
		// and go within them.
		var window []map[string]int64
		found := ""
		tick := time.NewTicker(25 * time.Millisecond)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			<-tick.C
			st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
			if err != nil || len(st.Services) != 1 {
				continue
			}
			now := map[string]int64{}
			for _, c := range st.Services[0].Containers {
				now[c.Name] = c.InFlight
			}
			if window = append(window, now); len(window) > 8 {
				window = window[1:]
			}
			if len(window) < 8 {
				continue
			}
			var total int64
			holds := map[string]int64{}
			for c := range now {
				m := now[c]
				for _, w := range window {
					m = min(m, w[c])
				}
				holds[c] = m
				total += m
			}
			if total < int64(len(out)) {
				continue // the last one sent is not seen yet
			}
			for c, n := range holds {
				if n > 0 && pick(c) {
					found = c
				}
			}
			break
		}
		tick.Stop()
		if found != "" {
			t.Logf("a long request is held on %s (after %d sent)", found, len(out))
			return out
		}
	}
	t.Fatal("no long request landed on a container that the scale-in removes")
	return nil
}

type heldAnswer struct {
	code int
	body string
	err  error
}

// berth scale on Docker, under a constant load through the proxy: 1 → 3
// starts two replicas of the live release and routes each once healthy;
// 3 → 1 with a long request open on a replica that goes takes the two
// out of rotation at once, returns without waiting for the drain, lets
// the request complete on its replica, and stops the two only then. No
// request fails either way; status, events and the deployment record
// say what happened.
func TestScale_OutAndInUnderLoadDropNoRequest(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1, Drain: "60s"})); err != nil {
		t.Fatal(err)
	}
	l := startPacedLoad(s.addrs.HTTP, host, 4, 200)
	defer l.stop()
	testutil.Eventually(t, 10*time.Second, "load flowing", func() bool { return l.total.Load() > 50 })

	start := time.Now()
	out, err := s.scale(t, name, dto.ScaleTarget{Service: "web", Replicas: 3})
	outTook := time.Since(start)
	if err != nil {
		t.Fatalf("scale 1 → 3: %v", err)
	}
	if out.Kind != dto.KindScale || out.Status != dto.DeploymentSucceeded || out.ReleaseID != 1 || out.CreatedBy != "admin-token" ||
		len(out.Scaled) != 1 || out.Scaled[0] != (dto.ScaleChange{Service: "web", From: 1, To: 3}) {
		t.Errorf("scale-out record: %+v", out)
	}
	st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
	if err != nil || st.Services[0].Replicas != 3 || len(st.Services[0].Containers) != 3 || st.Live.ID != 1 {
		t.Fatalf("status after scale-out: %+v, %v", st.Services, err)
	}
	for _, c := range st.Services[0].Containers {
		if c.Health != "healthy" {
			t.Errorf("after scale-out %s is %s", c.Name, c.Health)
		}
	}
	// Requests reach the new replicas.
	testutil.Eventually(t, 10*time.Second, "every replica serving", func() bool {
		st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
		if err != nil {
			return false
		}
		for _, c := range st.Services[0].Containers {
			if c.Served == 0 {
				return false
			}
		}
		return true
	})

	const longMS = 8000
	held := holdLong(t, s, name, host, longMS, func(c string) bool { return indexOf(c) > 1 })
	start = time.Now()
	in, err := s.scale(t, name, dto.ScaleTarget{Service: "web", Replicas: 1})
	inTook := time.Since(start)
	if err != nil {
		t.Fatalf("scale 3 → 1: %v", err)
	}
	if inTook > 5*time.Second {
		t.Errorf("scale-in took %s: it waited for the drain", inTook)
	}
	st, err = s.client.Status(context.Background(), name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	leaving := 0
	for _, c := range st.Services[0].Containers {
		if c.Leaving {
			leaving++
			if c.State != "running" {
				t.Errorf("%s left before its drain: %s", c.Name, c.State)
			}
		}
	}
	if st.Services[0].Replicas != 1 || leaving != 2 || len(st.Draining) != 1 {
		t.Errorf("status right after scale-in: replicas %d, %d leaving, draining %+v", st.Services[0].Replicas, leaving, st.Draining)
	}
	for _, ch := range held {
		select {
		case a := <-ch:
			if a.err != nil || a.code != http.StatusOK || a.body != "v1" {
				t.Errorf("a long request ended %d %q %v, want it to complete", a.code, a.body, a.err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a long request did not complete within a minute")
		}
	}
	heldFor := time.Since(start)
	testutil.Eventually(t, 60*time.Second, "the 2 removed replicas stopped and removed", func() bool { return runningOf(t, eng, name) == 1 })
	drained := time.Since(start)
	testutil.Eventually(t, 10*time.Second, "the drain recorded", func() bool {
		evs, err := s.client.Events(context.Background(), name, spec.DefaultEnv, 20)
		if err != nil {
			return false
		}
		var b strings.Builder
		for _, e := range evs {
			b.WriteString(e.Kind + ": " + e.Message + "\n")
		}
		got := b.String()
		return strings.Contains(got, "scaled: scaled web from 1 to 3 replica(s) by admin-token") &&
			strings.Contains(got, "scaled: scaled web from 3 to 1 replica(s) by admin-token") &&
			strings.Contains(got, "stopped 2 old container(s) of web")
	})
	l.stop()
	t.Logf("scale 1 → 3 took %s, 3 → 1 returned in %s; the long request ended %s after, the 2 replicas were gone %s after; load: %s",
		outTook.Round(time.Millisecond), inTook.Round(time.Millisecond), heldFor.Round(time.Millisecond), drained.Round(time.Millisecond), l.summary())
	if l.failed.Load() != 0 {
		t.Errorf("%d request(s) failed during the scales: %s", l.failed.Load(), l.summary())
	}
	if in.Failed != 0 || out.Failed != 0 || !in.Counted {
		t.Errorf("the scales counted %d and %d failed (counted %v)", out.Failed, in.Failed, in.Counted)
	}
	// Back at the file's count: the scale is forgotten.
	if st, err := s.client.Status(context.Background(), name, spec.DefaultEnv); err != nil || len(st.Services[0].Containers) != 1 || st.Services[0].Scale != nil {
		t.Errorf("status at the end: %+v, %v", st.Services, err)
	}
}

// The CLI: berth scale prints progress and the tally, refuses what
// cannot be scaled saying what to do, berth status shows the count and
// berth events the scale; a deploy of the same file keeps the count.
func TestCLI_Scale(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	file := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: v1 }
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up, interval: 200ms, deadline: 20s } }
`)
	if code, out, errOut := s.berth(t, "deploy", "-f", file); code != 0 {
		t.Fatalf("deploy exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := s.berth(t, "scale", name, "web=2")
	if code != 0 || !strings.Contains(out, "healthy web 1/1 new") || !strings.Contains(out, "scaled "+name+"/production release 1: web 1 → 2") {
		t.Errorf("berth scale web=2: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = s.berth(t, "scale", name, "nosuch=2")
	if code == 0 || !strings.Contains(errOut, `service "nosuch" is not in release 1 of `+name+": its services are web") {
		t.Errorf("berth scale nosuch=2: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = s.berth(t, "scale", name, "web=0")
	if code == 0 || !strings.Contains(errOut, "needs at least one replica") {
		t.Errorf("berth scale web=0: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = s.berth(t, "status", name)
	if code != 0 || !strings.Contains(out, "replicas: web 2/2 healthy (scaled from 1 by admin-token") {
		t.Errorf("berth status:\n%s", out)
	}
	code, out, _ = s.berth(t, "events", name)
	if code != 0 || !strings.Contains(out, "scaled web from 1 to 2 replica(s) by admin-token") {
		t.Errorf("berth events:\n%s", out)
	}
	// The same file again: release 2 keeps the scaled count.
	if code, out, errOut := s.berth(t, "deploy", "-f", file); code != 0 || !strings.Contains(out, "web runs 2 replica(s) as berth scale set") {
		t.Errorf("deploy of the same file: exit %d\n%s\n%s", code, out, errOut)
	}
	waitOldGone(t, eng, name, "2")
	if n := runningOf(t, eng, name); n != 2 {
		t.Errorf("release 2 runs %d replicas, want the scaled 2", n)
	}
	code, out, _ = s.berth(t, "scale", name, "web=1", "--output", "json")
	var dep dto.Deployment
	if code != 0 || json.Unmarshal([]byte(out), &dep) != nil || dep.Kind != dto.KindScale || dep.ReleaseID != 2 || len(dep.Scaled) != 1 || dep.Scaled[0].To != 1 {
		t.Errorf("berth scale --output json: exit %d\n%s", code, out)
	}
}
