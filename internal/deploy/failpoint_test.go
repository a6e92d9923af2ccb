package deploy

import (
	"context"
	"fmt"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// The AfterLiveCommit hook runs once per release, at the commit point:
// the store already says the new release is live, and its containers
// are still on restart policy "no" (they get theirs after the switch).
func TestDeployer_AfterLiveCommitRunsAtTheCommitPoint(t *testing.T) {
	h := newSwitchHarness(t, "1", "2")
	st := newTestStore(t)
	var seen []string
	d := New(Options{Engine: h.f, Store: st, Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc", AfterLiveCommit: func() {
		live, err := st.LiveRelease("shop", spec.DefaultEnv)
		if err != nil {
			seen = append(seen, "no live release: "+err.Error())
			return
		}
		cs, _ := h.f.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop", engine.LabelRelease: releaseLabel(live.ID)})
		for _, c := range cs {
			seen = append(seen, fmt.Sprintf("%d:%s", live.ID, h.f.RestartPolicy(c.ID)))
		}
	}})
	t.Cleanup(d.Close)
	ctx := context.Background()
	for i, tag := range []string{"1", "2"} {
		if _, err := d.Deploy(ctx, h.app(tag), spec.DefaultEnv, DeployOptions{}, nil); err != nil {
			t.Fatalf("deploy %d: %v", i+1, err)
		}
	}
	want := []string{"1:no", "1:no", "2:no", "2:no"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("at the hook: %v, want %v (each release live in the store, its containers not yet restarting)", seen, want)
	}
	cs, _ := h.f.ListContainers(ctx, map[string]string{engine.LabelApp: "shop", engine.LabelRelease: releaseLabel(2)})
	for _, c := range cs {
		if p := h.f.RestartPolicy(c.ID); p != "unless-stopped" {
			t.Errorf("after the deploy: %s has restart policy %q, want unless-stopped", c.Name, p)
		}
	}
}
