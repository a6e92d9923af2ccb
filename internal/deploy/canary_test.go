package deploy

import (
	"errors"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
)

func TestCanaryPlan_StartsOnlyRoutedServices(t *testing.T) {
	observed := []engine.Container{
		container("shop-production-web-r1-1", "shop", "production", "web", "1"),
		container("shop-production-worker-r1-1", "shop", "production", "worker", "1"),
	}
	plan := MakePlan(Desired{App: testApp(), Env: "production", Release: 2, Suffix: "abc"}, observed)
	x := &execution{app: testApp(), canary: 10}
	if err := canaryPlan(x, &plan); err != nil {
		t.Fatal(err)
	}
	for _, p := range plan.Start {
		if p.Service != "web" {
			t.Errorf("a canary starts %s", p.Service)
		}
	}
	if len(plan.Start) != 2 || !x.skip["worker"] || x.skip["web"] {
		t.Fatalf("start %d placements, skip %v", len(plan.Start), x.skip)
	}

	plan.Replace = map[string][]engine.Container{"db": nil}
	if err := canaryPlan(x, &plan); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a canary replacing a stateful service: %v", err)
	}
}

func TestPromotionPlan_KeepsTheCanaryAndStartsItsWorkers(t *testing.T) {
	canaryWeb := []engine.Container{
		container("shop-production-web-r2-1-abc", "shop", "production", "web", "2"),
		container("shop-production-web-r2-2-abc", "shop", "production", "web", "2"),
	}
	observed := append([]engine.Container{
		container("shop-production-web-r1-1", "shop", "production", "web", "1"),
		container("shop-production-worker-r1-1", "shop", "production", "worker", "1"),
	}, canaryWeb...)
	plan := MakePlan(Desired{App: testApp(), Env: "production", Release: 2, Suffix: "def"}, observed)
	x := &execution{app: testApp(), adopted: canaryWeb}
	promotionPlan(x, &plan)
	if len(plan.Start) != 1 || plan.Start[0].Service != "worker" {
		t.Fatalf("promote starts %+v, want the worker only", plan.Start)
	}
	if !x.skip["web"] {
		t.Fatal("web is not skipped")
	}
	var retired []string
	for _, cs := range plan.Retire {
		for _, c := range cs {
			retired = append(retired, c.Name)
		}
	}
	if len(retired) != 2 {
		t.Fatalf("retired %v, want the live release's web and worker", retired)
	}
	for _, n := range retired {
		if n == canaryWeb[0].Name || n == canaryWeb[1].Name {
			t.Fatalf("promote retires the canary's %s", n)
		}
	}
}
