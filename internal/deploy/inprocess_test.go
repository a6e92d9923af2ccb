package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// switchHarness is the single-host switch run in process: the fake
// engine's containers are real HTTP servers on loopback addresses, the
// proxy is berth's, and a client sends through the proxy as a user's
// browser would. Each container answers with its image's tag.
type switchHarness struct {
	t     *testing.T
	f     *enginetest.Fake
	d     *Deployer
	front *httptest.Server
	dir   string
	// hold holds every request for /hold until it is closed (or the
	// request is cut): a long-lived request, a WebSocket's stand-in.
	hold chan struct{}
}

func newSwitchHarness(t *testing.T, tags ...string) *switchHarness {
	t.Helper()
	f := enginetest.NewFake()
	hold := make(chan struct{})
	for i, tag := range tags {
		ref := "shop:" + tag
		f.AddImage(ref, fmt.Sprintf("sha256:%064d", i+1))
		f.Serve(t, ref, 8080, func(c engine.Container) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					w.WriteHeader(http.StatusOK)
					w.(http.Flusher).Flush()
					select {
					case <-hold:
						io.WriteString(w, "held "+tag)
					case <-r.Context().Done():
					}
					return
				}
				io.WriteString(w, tag)
			})
		})
	}
	px := proxy.New(proxy.Options{})
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: px, BindRoot: "/etc"})
	t.Cleanup(d.Close) // before the store closes: the retirements end
	front := httptest.NewServer(px)
	t.Cleanup(front.Close)
	return &switchHarness{t: t, f: f, d: d, front: front, dir: t.TempDir(), hold: hold}
}

// app loads a two-replica routed Compose service running image tag.
func (h *switchHarness) app(tag string) *spec.App {
	h.t.Helper()
	return h.appDraining(tag, "5s")
}

// appDraining is app with drain_timeout drain.
func (h *switchHarness) appDraining(tag, drain string) *spec.App {
	h.t.Helper()
	p := filepath.Join(h.dir, "compose-"+tag+".yaml")
	yaml := `name: shop
services:
  web:
    image: shop:` + tag + `
    deploy: { replicas: 2 }
    x-berth:
      port: 8080
      hosts: [shop.test]
      healthcheck: { path: /up, interval: 50ms, timeout: 1s }
      drain_timeout: ` + drain + `
`
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		h.t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		h.t.Fatal(err)
	}
	return app
}

// get sends one request for shop.test through the proxy.
func (h *switchHarness) get(c *http.Client) (string, error) {
	req, _ := http.NewRequest("GET", h.front.URL+"/", nil)
	req.Host = "shop.test"
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// load sends requests from n clients until stop is closed. flowing is
// closed once 50 requests were answered; wait returns how many were
// answered by each tag and the failures.
func (h *switchHarness) load(n int, stop <-chan struct{}) (flowing <-chan struct{}, wait func() (map[string]int, []string)) {
	var answered atomic.Int64
	flow := make(chan struct{})
	var mu sync.Mutex
	answers := map[string]int{}
	var failures []string
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				body, err := h.get(c)
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					answers[body]++
					if answered.Add(1) == 50 {
						close(flow)
					}
				}
				mu.Unlock()
			}
		}()
	}
	return flow, func() (map[string]int, []string) {
		wg.Wait()
		return answers, failures
	}
}

// The whole single-host switch, without Docker: deploy → health gate →
// atomic swap → drain → retire, then a rollback the same way, under a
// constant stream of requests. No request fails, the answers move from
// one release to the next, and the old containers are gone after each.
func TestDeployer_SwitchInProcessDropsNoRequest(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	if _, err := h.d.Deploy(ctx, h.app("1"), "", DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy release 1: %v", err)
	}
	if body, err := h.get(http.DefaultClient); err != nil || body != "1" {
		t.Fatalf("after release 1: %q, %v", body, err)
	}

	stop := make(chan struct{})
	flowing, wait := h.load(4, stop)
	select { // traffic reaches release 1 before the switch begins
	case <-flowing:
	case <-time.After(10 * time.Second):
		t.Fatal("no traffic through the proxy within 10s")
	}
	dep, err := h.d.Deploy(ctx, h.app("2"), "", DeployOptions{}, nil)
	if err != nil {
		close(stop)
		wait()
		t.Fatalf("deploy release 2: %v", err)
	}
	rb, err := h.d.Rollback(ctx, "shop", "", 0, DeployOptions{}, nil)
	close(stop)
	answers, failures := wait()
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	t.Logf("answers %v, %d failed; deploy %d served, rollback %d served", answers, len(failures), dep.Served, rb.Served)
	if len(failures) > 0 {
		t.Errorf("%d request(s) failed during the deploy and rollback; first: %s", len(failures), failures[0])
	}
	if answers["1"] == 0 || answers["2"] == 0 {
		t.Errorf("answers %v: want both releases to have answered", answers)
	}
	if dep.Failed != 0 || rb.Failed != 0 || !dep.Counted || dep.Served == 0 {
		t.Errorf("deploy counted %d served %d failed (counted %v), rollback %d failed", dep.Served, dep.Failed, dep.Counted, rb.Failed)
	}
	if body, err := h.get(http.DefaultClient); err != nil || body != "1" {
		t.Errorf("after the rollback: %q, %v; want release 1's answer", body, err)
	}
	// The old release's containers go once its pool drained, in the
	// background.
	var cs []engine.Container
	testutil.Eventually(t, 10*time.Second, "only the live release's 2 containers", func() bool {
		cs, err = h.f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"})
		return err == nil && len(cs) == 2
	})
	for _, c := range cs {
		if c.ImageID != fmt.Sprintf("sha256:%064d", 1) || c.State != engine.StateRunning || h.f.Listening(c.ID) == "" {
			t.Errorf("container %s: image %s, %s, listening %q", c.Name, c.ImageID, c.State, h.f.Listening(c.ID))
		}
	}
}
