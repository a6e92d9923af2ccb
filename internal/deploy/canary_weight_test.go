package deploy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// share sends n requests through the proxy from clients without the
// canary cookie (each is assigned afresh) and returns the share (0-1)
// release tag answered.
func (h *switchHarness) share(t *testing.T, tag string, n int) float64 {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	got := 0
	for range n {
		body, err := h.get(c)
		if err != nil {
			t.Fatalf("a request through the proxy failed: %v", err)
		}
		if body == tag {
			got++
		}
	}
	return float64(got) / float64(n)
}

// Moving a canary's share: the store and the proxy's split both take
// the new weight, and the clients follow; nothing starts or stops. A
// move without a canary, or out of 1-99, is refused saying what to do.
func TestDeployer_SetCanaryWeightMovesTheSplit(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	if _, err := h.d.Deploy(ctx, h.app("1"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.SetCanaryWeight(ctx, "shop", "", 50); !errors.Is(err, ErrCanary) || !strings.Contains(err.Error(), "--canary") {
		t.Errorf("a move without a canary: %v", err)
	}
	if _, err := h.d.Deploy(ctx, h.app("2"), "", DeployOptions{Canary: 10}, nil); err != nil {
		t.Fatal(err)
	}
	if s := h.share(t, "2", 400); s > 0.25 {
		t.Fatalf("at 10%% the canary answered %.0f%% of clients", 100*s)
	}
	for _, w := range []int{0, 100} {
		if _, err := h.d.SetCanaryWeight(ctx, "shop", "", w); !errors.Is(err, ErrInvalid) {
			t.Errorf("weight %d: %v", w, err)
		}
	}
	before := len(h.running("2"))
	mv, err := h.d.SetCanaryWeight(ctx, "shop", "", 90)
	if err != nil {
		t.Fatal(err)
	}
	if mv.From != 10 || mv.To != 90 || mv.Release != 2 || mv.Live != 1 {
		t.Errorf("the move: %+v", mv)
	}
	if _, w := h.d.proxy.Canary(routeKey("shop", "production", "web")); w != 90 {
		t.Errorf("the proxy's canary weight is %d, want 90", w)
	}
	if s := h.share(t, "2", 400); s < 0.75 {
		t.Errorf("at 90%% the canary answered %.0f%% of clients", 100*s)
	}
	st, err := h.d.Status(ctx, "shop", "production")
	if err != nil || st.Canary == nil || st.Canary.Weight != 90 {
		t.Errorf("status after the move: %+v (%v)", st.Canary, err)
	}
	if after := len(h.running("2")); after != before {
		t.Errorf("the move changed the canary's containers: %d → %d", before, after)
	}
	evs, _ := h.d.Events("shop", "production", 0)
	found := false
	for _, e := range evs {
		found = found || (e.Kind == "canary_weight" && strings.Contains(e.Message, "90% of clients (was 10%)"))
	}
	if !found {
		t.Errorf("no canary_weight event: %+v", evs)
	}
	if _, err := h.d.Promote(ctx, "shop", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.SetCanaryWeight(ctx, "shop", "", 50); !errors.Is(err, ErrCanary) {
		t.Errorf("a move after promote: %v", err)
	}
}
