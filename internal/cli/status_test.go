package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
)

func statusFixture() []dto.EnvStatus {
	return []dto.EnvStatus{{
		App: "shop", Env: "production",
		Services: []dto.ServiceStatus{
			{Name: "web", Hosts: []string{"shop.test"}, Replicas: 2, Containers: []dto.ContainerStatus{
				{Name: "shop-web-1", Release: "7", State: "running", Health: "healthy", Address: "10.0.0.2:8080", RPS: 12.5, ErrorRate: 0.02},
				{Name: "shop-web-2", Release: "7", State: "running", Health: "unhealthy", HealthError: "status 500", Address: "10.0.0.3:8080", RPS: 0.25, ErrorRate: 1},
			}},
			{Name: "worker", Containers: []dto.ContainerStatus{{Name: "shop-worker-1", Release: "7", State: "running"}}},
		},
	}}
}

func TestPrintStatus_RequestRateAndErrorsPerTarget(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, statusFixture())
	lines := strings.Split(b.String(), "\n")
	row := func(name string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 1 && f[1] == name {
				return f
			}
		}
		t.Fatalf("no row for %s in\n%s", name, b.String())
		return nil
	}
	var header []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "SERVICE" {
			header = f
		}
	}
	want := []string{"SERVICE", "CONTAINER", "RELEASE", "STATE", "HEALTH", "RPS", "ERRORS", "ADDRESS", "HOSTS"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Fatalf("header %v, want %v", header, want)
	}
	if r := row("shop-web-1"); r[5] != "12.5" || r[6] != "2.0%" {
		t.Errorf("web-1: %v", r)
	}
	// "unhealthy (status 500)" is three fields.
	if r := row("shop-web-2"); r[7] != "0.2" || r[8] != "100.0%" {
		t.Errorf("web-2: %v", r)
	}
	if r := row("shop-worker-1"); r[5] != "-" || r[6] != "-" {
		t.Errorf("worker (not routed): %v", r)
	}
}

func TestStatusJSON_HasRateAndErrorRate(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, statusFixture()); err != nil {
		t.Fatal(err)
	}
	var out []struct {
		Services []struct {
			Containers []map[string]any `json:"containers"`
		} `json:"services"`
	}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	c := out[0].Services[0].Containers[0]
	if c["rps"] != 12.5 || c["error_rate"] != 0.02 {
		t.Fatalf("container JSON %v", c)
	}
	if w := out[0].Services[1].Containers[0]; w["rps"] != 0.0 || w["error_rate"] != 0.0 {
		t.Fatalf("worker JSON %v", w)
	}
}

func TestPrintStatus_ReplicasAndAScale(t *testing.T) {
	sts := statusFixture()
	sts[0].Live = &dto.Release{ID: 7}
	sts[0].Services[0].Replicas = 3
	sts[0].Services[0].Scale = &dto.Scale{Replicas: 3, File: 2, From: 2, By: "alice"}
	sts[0].Services[0].Containers = append(sts[0].Services[0].Containers,
		dto.ContainerStatus{Name: "shop-web-3", Release: "7", State: "running", Leaving: true})
	sts[0].Services[0].Healthy, sts[0].Services[0].Replacing = 1, 1
	sts[0].Services[0].Healing = "failing, replaced once it has failed for 30s"
	sts[0].Services[1].Replicas, sts[0].Services[1].Healthy = 1, 1
	var b bytes.Buffer
	printStatus(&b, sts)
	out := b.String()
	if !strings.Contains(out, "replicas: web 1/3 healthy, 1 replacing (failing, replaced once it has failed for 30s) (scaled from 2 by alice at ") ||
		!strings.Contains(out, "the file says 2); worker 1/1 healthy") {
		t.Errorf("no replica line:\n%s", out)
	}
	if !strings.Contains(out, "running (leaving: draining, then stopped)") {
		t.Errorf("a leaving container is not marked:\n%s", out)
	}
}
