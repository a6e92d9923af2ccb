package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/store"
)

func TestRemovalEvent_Kinds(t *testing.T) {
	start := time.Now()
	dep := store.Deployment{ID: 9, App: "shop", Env: "staging", Kind: store.KindRemove, StartedAt: start, EndedAt: start.Add(2 * time.Second)}
	ev, ok := removalEvent(dep, nil)
	if !ok || ev.Kind != notify.Removed || ev.App != "shop" || ev.Env != "staging" || !strings.Contains(ev.Message, "deployment 9") || ev.Duration != 2*time.Second {
		t.Errorf("removal event = %+v, %v; want removed, shop/staging, deployment 9, 2s", ev, ok)
	}
	ev, _ = removalEvent(dep, errors.New("network berth-shop-staging: in use\nmore"))
	if ev.Kind != notify.RemoveFailed || ev.Message != "network berth-shop-staging: in use" {
		t.Errorf("failed removal event = %+v; want remove_failed with the first line", ev)
	}
	dep.Kind = store.KindDeploy
	if _, ok := removalEvent(dep, nil); ok {
		t.Error("a deploy is notified as a removal")
	}
	if got := notify.SlackText(notify.Event{Kind: notify.Removed, App: "shop", Env: "staging", Message: "m"}); got != "*Removed* shop/staging: m" {
		t.Errorf("Slack text %q", got)
	}
}
