package deploy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/testutil"
)

type heldAnswer struct {
	code int
	body string
	err  error
}

// holdOpen sends GET /hold for shop.test through the proxy and waits
// until the live pool counts it in flight.
func (h *switchHarness) holdOpen() <-chan heldAnswer {
	h.t.Helper()
	out := make(chan heldAnswer, 1)
	go func() {
		req, _ := http.NewRequest("GET", h.front.URL+"/hold", nil)
		req.Host = "shop.test"
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		resp, err := c.Do(req)
		if err != nil {
			out <- heldAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- heldAnswer{code: resp.StatusCode, body: string(b), err: err}
	}()
	testutil.Eventually(h.t, 5*time.Second, "the held request in flight", func() bool {
		p, _ := h.d.proxy.Route(routeKey("shop", "production", "web"))
		return p != nil && p.InFlight() == 1
	})
	return out
}

// ids are the IDs of shop's containers of release rel.
func (h *switchHarness) ids(rel string) []string {
	h.t.Helper()
	cs, err := h.f.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop", engine.LabelRelease: rel})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func (h *switchHarness) gone(id string) bool {
	_, err := h.f.InspectContainer(context.Background(), id)
	return errors.Is(err, engine.ErrNotFound)
}

// The measured defect of issue 18: with one long-lived request open on
// release 1, deploying release 2 took the whole drain timeout and held
// the app's lock through it. Now the deploy returns right after the
// switch, a rollback started at once is accepted (to the very release
// that drains), the held request finishes on release 1, and release 1's
// containers go only after their pool drained; the drain's outcome is an
// event of the app.
func TestDeployer_DeployReturnsWhileALongRequestDrains(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	const drain = 30 * time.Second
	if _, err := h.d.Deploy(ctx, h.appDraining("1", "30s"), "", DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy release 1: %v", err)
	}
	draining := h.ids("1")
	held := h.holdOpen()

	var said []string
	start := time.Now()
	dep2, err := h.d.Deploy(ctx, h.appDraining("2", "30s"), "", DeployOptions{}, func(p Progress) { said = append(said, p.Message) })
	if err != nil {
		t.Fatalf("deploy release 2: %v", err)
	}
	took := time.Since(start)
	t.Logf("deploy of release 2 with a request held on release 1 took %s (drain timeout %s)", took.Round(time.Millisecond), drain)
	if took > drain/3 {
		t.Errorf("the deploy took %s: it waited for the drain", took)
	}
	if got := strings.Join(said, "\n"); !strings.Contains(got, "draining web release 1 in the background until") {
		t.Errorf("progress does not say release 1 drains in the background:\n%s", got)
	}
	if h.d.Busy("shop", "production") {
		t.Fatal("the app is still locked after the deploy returned")
	}
	st, err := h.d.Status(ctx, "shop", "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Draining) != 1 || st.Draining[0].Release != "1" || st.Draining[0].InFlight != 1 {
		t.Errorf("status draining %+v, want release 1 with 1 request", st.Draining)
	}
	for _, id := range draining {
		if h.gone(id) {
			t.Fatalf("release 1's container %s went while its pool drains", id)
		}
	}
	if body, err := h.get(http.DefaultClient); err != nil || body != "2" {
		t.Fatalf("after the deploy: %q, %v", body, err)
	}

	// Rolling back at once, to the release that drains, is accepted: it
	// starts release 1 afresh; the draining containers stay the drain's.
	if _, err := h.d.Rollback(ctx, "shop", "", 0, DeployOptions{}, nil); err != nil {
		t.Fatalf("rollback right after the deploy: %v", err)
	}
	if body, err := h.get(http.DefaultClient); err != nil || body != "1" {
		t.Fatalf("after the rollback: %q, %v", body, err)
	}
	testutil.Eventually(t, 10*time.Second, "release 2's containers removed (nothing held on them)", func() bool { return len(h.ids("2")) == 0 })
	for _, id := range draining {
		if h.gone(id) {
			t.Fatalf("release 1's draining container %s went before its drain ended", id)
		}
	}
	select {
	case a := <-held:
		t.Fatalf("the held request ended before it was let go: %+v", a)
	default:
	}

	close(h.hold)
	if a := <-held; a.err != nil || a.code != http.StatusOK || a.body != "held 1" {
		t.Fatalf("the held request: %+v", a)
	}
	testutil.Eventually(t, 10*time.Second, "the drained containers removed", func() bool {
		for _, id := range draining {
			if !h.gone(id) {
				return false
			}
		}
		return true
	})
	if live := h.ids("1"); len(live) != 2 {
		t.Errorf("release 1 runs %d containers after its old ones drained, want its 2 fresh ones", len(live))
	}
	testutil.Eventually(t, 5*time.Second, "the drain's event", func() bool {
		evs, _ := h.d.Events("shop", "production", 20)
		for _, e := range evs {
			if e.Kind == "drained" && e.Release == "1" && strings.HasPrefix(e.Message, "drained web release 1 in ") &&
				strings.HasSuffix(e.Message, "; stopped 2 old container(s) of web") && !strings.Contains(e.Message, "cut") {
				return true
			}
		}
		return false
	})
	// The deploy's own record tells how release 1 left.
	testutil.Eventually(t, 5*time.Second, "the drain on the deployment's timeline", func() bool {
		dep, err := h.d.store.GetDeployment(dep2.ID)
		if err != nil || len(dep.Timeline) == 0 {
			return false
		}
		last := dep.Timeline[len(dep.Timeline)-1].Message
		return strings.HasPrefix(last, "in the background: drained web release 1 in ")
	})
}

// A request held past the drain timeout is cut then, and the event says
// so; the next deploy was never held up by it.
func TestDeployer_DrainTimeoutCutsAndIsReported(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	if _, err := h.d.Deploy(ctx, h.appDraining("1", "300ms"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	draining := h.ids("1")
	held := h.holdOpen()
	if _, err := h.d.Deploy(ctx, h.appDraining("2", "300ms"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if a := <-held; a.err == nil && a.body == "held 1" {
		t.Fatalf("the held request was not cut: %+v", a)
	}
	testutil.Eventually(t, 10*time.Second, "the drain's event with the cut", func() bool {
		evs, _ := h.d.Events("shop", "production", 20)
		for _, e := range evs {
			if e.Kind == "drained" && strings.Contains(e.Message, "drained web release 1 in ") &&
				strings.Contains(e.Message, "; 1 long-lived request(s) cut at the drain timeout; stopped 2 old container(s) of web") {
				return true
			}
		}
		return false
	})
	for _, id := range draining {
		if !h.gone(id) {
			t.Errorf("release 1's container %s left after its drain", id)
		}
	}
}
