package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// deployCanary deploys app as a canary taking weight% of clients.
func (s *server) deployCanary(t *testing.T, app *spec.App, weight int) (*dto.Deployment, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.client.Deploy(ctx, app, spec.DefaultEnv, dto.DeployOptions{Canary: weight}, func(p dto.Progress) {
		t.Logf("canary %s: %6.3fs %s", app.Name, p.Elapsed.Seconds(), p.Message)
	})
}

func (s *server) promote(t *testing.T, app string) (*dto.Deployment, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.client.Promote(ctx, app, spec.DefaultEnv, func(p dto.Progress) {
		t.Logf("promote %s: %6.3fs %s", app, p.Elapsed.Seconds(), p.Message)
	})
}

// canaryGet sends GET / to host with the berth_canary cookie id (none when
// empty) and returns the body and the id a Set-Cookie gave.
func canaryGet(c *http.Client, addr, host, id string) (body, set string, err error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = host
	if id != "" {
		req.AddCookie(&http.Cookie{Name: "berth_canary", Value: id})
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("status %d: %s %v", resp.StatusCode, b, err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "berth_canary" {
			set = ck.Value
		}
	}
	return strings.TrimSpace(string(b)), set, nil
}

// splitRound sends one request per client, 8 at a time: clients with an
// empty id bring no cookie. It returns the body each got and the id it
// was given (or brought).
func splitRound(t *testing.T, addr, host string, ids []string) (bodies, got []string) {
	t.Helper()
	bodies, got = make([]string, len(ids)), make([]string, len(ids))
	c := &http.Client{Timeout: 10 * time.Second} // no cookie jar
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body, set, err := canaryGet(c, addr, host, ids[i])
				if err != nil {
					errs <- err
					continue
				}
				bodies[i], got[i] = body, set
				if ids[i] != "" {
					got[i] = ids[i]
				}
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("request failed: %v", err)
	}
	return bodies, got
}

func share(bodies []string, body string) float64 {
	n := 0
	for _, b := range bodies {
		if b == body {
			n++
		}
	}
	return float64(n) * 100 / float64(len(bodies))
}

func TestCanary_SplitStickyPromoteAndRollbackUnderLoad(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatalf("deploy v1: %v", err)
	}
	if _, err := s.deployCanary(t, loadApp(t, name, host, appOpts{Version: "v2"}), 10); err != nil {
		t.Fatalf("deploy v2 as a canary: %v", err)
	}

	// Another deploy is refused while the canary runs.
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v3"})); err == nil || !strings.Contains(err.Error(), "promote or roll back the canary first") {
		t.Fatalf("deploy during a canary: want a refusal, got %v", err)
	}
	st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(st.Shares); got != "[{1 live 90} {2 canary 10}]" {
		t.Fatalf("status shares %s, canary %+v", got, st.Canary)
	}
	rels, _ := s.client.Releases(context.Background(), name, spec.DefaultEnv)
	if rels[0].Status != "canary" || rels[1].Status != "live" {
		t.Fatalf("releases: %s, %s", rels[0].Status, rels[1].Status)
	}

	// 2,000 distinct clients without cookies, then the same clients with
	// the cookie each was given.
	bodies, ids := splitRound(t, s.addrs.HTTP, host, make([]string, 2000))
	first := share(bodies, "v2")
	t.Logf("2,000 new clients: %.1f%% on the canary", first)
	if math.Abs(first-10) > 3 {
		t.Fatalf("canary got %.1f%% of 2,000 new clients, want 10 ± 3", first)
	}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("client %d got no berth_canary cookie", i)
		}
	}
	again, _ := splitRound(t, s.addrs.HTTP, host, ids)
	for i := range ids {
		if again[i] != bodies[i] {
			t.Fatalf("client %s got %s, then %s with its cookie", ids[i], bodies[i], again[i])
		}
	}
	t.Logf("2,000 clients with their cookies: %.1f%% on the canary, every one on the same release as before", share(again, "v2"))

	// Promote under load: nothing fails, v1 stops serving.
	l := startLoad(s.addrs.HTTP, host, 32)
	testutil.Eventually(t, 10*time.Second, "load on both", func() bool { return l.count("v1") > 200 && l.count("v2") > 10 })
	dep, err := s.promote(t, name)
	promoted := time.Now()
	if err != nil {
		l.stop()
		t.Fatalf("promote: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "load after promote", func() bool { return l.count("v2") > 500 })
	l.stop()
	t.Logf("promote: %s", l.summary())
	if l.failed.Load() != 0 {
		t.Fatalf("requests failed during the promote: %s", l.summary())
	}
	if last := l.lastStarted("v1"); last.After(promoted) {
		t.Fatalf("a request started %s after the promote returned was answered by v1", last.Sub(promoted))
	}
	if dep.Kind != "promote" || dep.ReleaseID != 2 || dep.Failed != 0 {
		t.Fatalf("promote record: %+v", dep)
	}
	rels, _ = s.client.Releases(context.Background(), name, spec.DefaultEnv)
	if rels[0].Status != "live" || rels[1].Status != "superseded" {
		t.Fatalf("after promote: releases %s, %s", rels[0].Status, rels[1].Status)
	}

	// A canary rolled back under load: nothing fails, its clients go back.
	if _, err := s.deployCanary(t, loadApp(t, name, host, appOpts{Version: "v3"}), 10); err != nil {
		t.Fatalf("deploy v3 as a canary: %v", err)
	}
	l = startLoad(s.addrs.HTTP, host, 32)
	testutil.Eventually(t, 10*time.Second, "load on the canary", func() bool { return l.count("v3") > 50 })
	dep, err = s.rollback(t, name, 0)
	rolledBack := time.Now()
	if err != nil {
		l.stop()
		t.Fatalf("rollback of the canary: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "load after rollback", func() bool { return l.count("v2") > 1000 })
	l.stop()
	t.Logf("canary rollback: %s", l.summary())
	if l.failed.Load() != 0 {
		t.Fatalf("requests failed during the canary rollback: %s", l.summary())
	}
	if last := l.lastStarted("v3"); last.After(rolledBack) {
		t.Fatalf("a request started %s after the rollback returned was answered by the canary", last.Sub(rolledBack))
	}
	if dep.ReleaseID != 2 || dep.FromReleaseID != 3 {
		t.Fatalf("rollback record: %+v", dep)
	}
	rels, _ = s.client.Releases(context.Background(), name, spec.DefaultEnv)
	if rels[0].Status != "rolled_back" || !strings.Contains(rels[0].Reason, "berth rollback") || rels[1].Status != "live" {
		t.Fatalf("after the canary rollback: release 3 %s (%q), release 2 %s", rels[0].Status, rels[0].Reason, rels[1].Status)
	}
	waitOldGone(t, eng, name, "2") // the canary's drain ends in the background
	cs, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
	for _, c := range cs {
		if c.Labels[engine.LabelRelease] != "2" {
			t.Errorf("container %s of release %s left after the canary rollback", c.Name, c.Labels[engine.LabelRelease])
		}
	}
}

func TestCanary_SurvivesRestartAndAnUnhealthyCanaryGetsNoTraffic(t *testing.T) {
	eng := requireDocker(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatalf("deploy v1: %v", err)
	}
	if _, err := s.deployCanary(t, loadApp(t, name, host, appOpts{Version: "v2"}), 20); err != nil {
		t.Fatalf("deploy v2 as a canary: %v", err)
	}
	// Moved from 20% to 50% with berth canary: the store keeps the new
	// split, so the restart below restores it.
	if code, out, errOut := s.berth(t, "canary", name, "50"); code != 0 || !strings.Contains(out, "takes 50% of clients (was 20%)") {
		t.Fatalf("berth canary %s 50: exit %d\n%s\n%s", name, code, out, errOut)
	}
	if st, err := s.client.Status(context.Background(), name, spec.DefaultEnv); err != nil || fmt.Sprint(st.Shares) != "[{1 live 50} {2 canary 50}]" {
		t.Fatalf("shares after berth canary: %+v (%v)", st.Shares, err)
	}
	bodies, ids := splitRound(t, s.addrs.HTTP, host, make([]string, 400))

	s.stop()
	s = startServer(t, dir)
	again, _ := splitRound(t, s.addrs.HTTP, host, ids)
	for i := range ids {
		if again[i] != bodies[i] {
			t.Fatalf("after a restart, client %s got %s instead of %s", ids[i], again[i], bodies[i])
		}
	}
	t.Logf("after a restart: %.1f%% of 400 clients on the canary, each on the same release as before", share(again, "v2"))

	// Stop the canary's containers: its clients go to v1, nothing fails.
	cs, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelRelease: "2"})
	for _, c := range cs {
		if err := eng.StopContainer(context.Background(), c.ID, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 15*time.Second, "canary reported unhealthy", func() bool {
		st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
		return err == nil && st.Canary != nil && !st.Canary.Healthy && fmt.Sprint(st.Shares) == "[{1 live 100} {2 canary 0}]"
	})
	after, _ := splitRound(t, s.addrs.HTTP, host, ids)
	if sh := share(after, "v1"); sh != 100 {
		t.Fatalf("with the canary down, %.1f%% of clients got v1", sh)
	}
	evs, _ := s.client.Events(context.Background(), name, spec.DefaultEnv, 50)
	found := false
	for _, e := range evs {
		found = found || e.Kind == "canary_unhealthy"
	}
	if !found {
		t.Fatalf("no canary_unhealthy event in %+v", evs)
	}
	rels, _ := s.client.Releases(context.Background(), name, spec.DefaultEnv)
	if !strings.Contains(rels[0].Reason, "no healthy container") {
		t.Fatalf("canary release reason %q", rels[0].Reason)
	}
	if _, err := s.promote(t, name); err == nil || !strings.Contains(err.Error(), "not promoted") {
		t.Fatalf("promote of an unhealthy canary: %v", err)
	}
	if _, err := s.rollback(t, name, 0); err != nil {
		t.Fatalf("rollback of the canary: %v", err)
	}
	if st, _ := s.client.Status(context.Background(), name, spec.DefaultEnv); st.Canary != nil {
		t.Fatalf("canary still in status after rollback: %+v", st.Canary)
	}
}
