package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine"
)

// Two berth servers on one engine (staging and production, or one
// started twice by mistake) deploying an app of the same name: the
// second is refused with the first's server id before it changes
// anything, and the first's release keeps serving, its containers
// untouched by the second's converge.
func TestServer_SecondServerCannotTakeAnAppOver(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	a := startServer(t, t.TempDir())
	b := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := a.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatalf("deploy on A: %v", err)
	}
	idA, err := os.ReadFile(filepath.Join(a.dataDir, daemon.ServerIDFile))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.deploy(t, loadApp(t, name, host, appOpts{Version: "v2"}))
	if err == nil || !strings.Contains(err.Error(), "another berth server") || !strings.Contains(err.Error(), strings.TrimSpace(string(idA))) {
		t.Fatalf("deploy of A's app name on B: %v, want a refusal naming server %s", err, idA)
	}
	cs, err := eng.ListContainers(t.Context(), map[string]string{engine.LabelApp: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Labels[engine.LabelServer] != strings.TrimSpace(string(idA)) || !c.Running() {
			t.Errorf("container %s after B's attempt: server %q running %v", c.Name, c.Labels[engine.LabelServer], c.Running())
		}
	}
	if len(cs) != 2 {
		t.Errorf("%d containers of the app, want A's 2", len(cs))
	}
	if code, body := get(t, a.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
		t.Errorf("A serves %d %q, want v1", code, body)
	}
}
