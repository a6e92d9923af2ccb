package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

func TestLive_CrashedContainersAreRestartedAndShown(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	// The request that crashes the app fails (the app died answering it).
	get(t, s.addrs.HTTP, host, "/exit?code=3")
	testutil.Eventually(t, 20*time.Second, "container restarted, healthy and routed again", func() bool {
		st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
		if err != nil || len(st.Services) != 1 || len(st.Services[0].Containers) != 1 {
			return false
		}
		c := st.Services[0].Containers[0]
		if c.RestartCount < 1 || c.Health != "healthy" {
			return false
		}
		code, body := get(t, s.addrs.HTTP, host, "/")
		return code == 200 && body == "v1"
	})
	_, out, _ := s.berth(t, "status", name)
	if !strings.Contains(out, "(1 restarts)") {
		t.Errorf("status does not show the restart:\n%s", out)
	}
}

func TestLive_OOMKillsAreReportedAsSuch(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	app := loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})
	app.Services[0].MemoryBytes = 32 << 20
	if _, err := s.deploy(t, app); err != nil {
		t.Fatal(err)
	}
	get(t, s.addrs.HTTP, host, "/alloc?mb=256")
	testutil.Eventually(t, 20*time.Second, "OOM kill in the event log", func() bool {
		evs, err := s.client.Events(context.Background(), name, spec.DefaultEnv, 10)
		if err != nil {
			return false
		}
		for _, e := range evs {
			if e.Kind == "oom" || strings.Contains(e.Message, "OOM-killed") {
				return true
			}
		}
		return false
	})
	_, out, _ := s.berth(t, "events", name)
	if !strings.Contains(out, "out of memory") || !strings.Contains(out, "limit 32 MiB") {
		t.Errorf("berth events:\n%s", out)
	}
}
