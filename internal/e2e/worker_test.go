package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// withWorker adds a worker service (no hosts) to app.
func withWorker(app *spec.App, env map[string]string) *spec.App {
	w := app.Services[0]
	w.Name = "worker"
	w.Hosts, w.Port, w.Replicas = nil, 0, 1
	w.Environment = map[string]string{}
	for k, v := range app.Services[0].Environment {
		w.Environment[k] = v
	}
	for k, v := range env {
		w.Environment[k] = v
	}
	app.Services = append(app.Services, w) // "web" < "worker": still sorted
	return app
}

func TestDeploy_WorkersAreReplacedStartNewThenStopOld(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, withWorker(loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1}), nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.deploy(t, withWorker(loadApp(t, name, host, appOpts{Version: "v2", Replicas: 1}), nil)); err != nil {
		t.Fatal(err)
	}
	waitOldGone(t, eng, name, "2") // v1's worker stops in the background
	workers, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelService: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	if len(workers) != 1 || workers[0].Labels[engine.LabelRelease] != "2" || !workers[0].Running() {
		t.Fatalf("workers after v2: %+v", workers)
	}

	// A worker that crashes refuses the whole release; v2 keeps running.
	_, err = s.deploy(t, withWorker(loadApp(t, name, host, appOpts{Version: "v3", Replicas: 1}), map[string]string{"CRASH": "1"}))
	var de *apiclient.DeployError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), `service "worker"`) || !strings.Contains(err.Error(), "exited with code 1") {
		t.Fatalf("crashing worker: %v", err)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "v2" {
		t.Fatalf("after the refused release: %q", body)
	}
	all, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
	for _, c := range all {
		if c.Labels[engine.LabelRelease] != "2" || !c.Running() {
			t.Errorf("container %s (release %s, %s) after the refused release", c.Name, c.Labels[engine.LabelRelease], c.State)
		}
	}
}
