package deploy

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/testutil"
)

// The replicas rule holds for rollbacks the same way: back to a release
// whose file had the count the scale was made over keeps the scaled
// count; back to one whose file says another count runs the file's and
// forgets the scale.
func TestDeployer_ScaleHoldsAcrossRollbackWhileTheFileAgrees(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	if _, err := h.d.Deploy(ctx, h.appReplicas("1", 2, "1s"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.Deploy(ctx, h.appReplicas("2", 2, "1s"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 3}}, nil); err != nil {
		t.Fatal(err)
	}
	var said []string
	if _, err := h.d.Rollback(ctx, "shop", "", 1, DeployOptions{}, func(p Progress) { said = append(said, p.Message) }); err != nil {
		t.Fatal(err)
	}
	if n := len(h.running("1")); n != 3 {
		t.Errorf("rolled back to release 1 (deploy.replicas 2, as when scaled): %d run, want the scaled 3", n)
	}
	if got := strings.Join(said, "\n"); !strings.Contains(got, "web runs 3 replica(s) as berth scale set (the file's deploy.replicas is still 2)") {
		t.Errorf("the rollback does not say it keeps the scale:\n%s", got)
	}
	// Release 3's file says 4: it runs 4, and a rollback from it to
	// release 1 then runs release 1's file's 2: the scale is gone.
	if _, err := h.d.Deploy(ctx, h.appReplicas("2", 4, "1s"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(h.running("3")); n != 4 {
		t.Errorf("release 3 runs %d, want its file's 4", n)
	}
	if _, err := h.d.Rollback(ctx, "shop", "", 1, DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(h.running("1")); n != 2 {
		t.Errorf("back on release 1 after the file changed the count: %d run, want the file's 2", n)
	}
}

// A scale right after a deploy, while the old release still drains a
// long request, scales the live release and leaves the draining one to
// its retirement; a deploy right after a scale-in, while the replicas
// that went still drain, leaves them to theirs.
func TestDeployer_ScaleBesideADrainingRelease(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	if _, err := h.d.Deploy(ctx, h.appReplicas("1", 1, "30s"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	old := h.ids("1")
	held := h.holdOpen()
	if _, err := h.d.Deploy(ctx, h.appReplicas("2", 1, "30s"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 3}}, nil); err != nil {
		t.Fatalf("scale while release 1 drains: %v", err)
	}
	if n := len(h.running("2")); n != 3 {
		t.Errorf("release 2 runs %d, want 3", n)
	}
	if !running(t, h.f, old[0]) {
		t.Error("the scale stopped release 1's draining container")
	}
	if _, err := h.d.Scale(ctx, "shop", "", []ScaleTarget{{"web", 1}}, nil); err != nil {
		t.Fatal(err)
	}
	leaving := 0
	for _, c := range h.running("2") {
		if h.d.retiringOwns(c.ID) {
			leaving++
		}
	}
	// The scale-in's pool drained at once (nothing in flight on it), so
	// its two may be gone already; none of release 2's is routed but one.
	if p, _ := h.d.proxy.Route(routeKey("shop", "production", "web")); p == nil || len(p.Status()) != 1 {
		t.Fatalf("route after scale-in: %v", p)
	}
	if _, err := h.d.Deploy(ctx, h.appReplicas("2", 1, "30s"), "", DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy right after a scale-in (%d leaving): %v", leaving, err)
	}
	if n := len(h.running("3")); n != 1 {
		t.Errorf("release 3 runs %d, want the scaled 1", n)
	}
	close(h.hold)
	if a := <-held; a.err != nil || a.code != http.StatusOK || a.body != "held 1" {
		t.Errorf("the held request on release 1 ended %d %q %v", a.code, a.body, a.err)
	}
	testutil.Eventually(t, 15*time.Second, "only release 3's container left", func() bool {
		cs, _ := h.f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop"})
		return len(cs) == 1 && cs[0].Labels[engine.LabelRelease] == "3"
	})
}
