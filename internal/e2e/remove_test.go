package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/engine"
)

// berth env remove takes an environment away as docker compose down
// does, keeping its volume unless --volumes (confirmed) and its history
// always; a later deploy starts afresh. berth apps remove does it for
// every environment.
func TestRemove_EnvKeepsHistoryAndVolumesUntilAsked(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	vol := name + "-production-data"
	s.removeVolumesAtEnd(t, eng, name, vol)
	ctx := context.Background()
	if _, err := s.deploy(t, volumeApp(t, name, host, "v1", "")); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, s.addrs.HTTP, host, "/write?path=/data/upload.txt&data=written-by-v1"); code != 200 {
		t.Fatalf("write: %d", code)
	}
	labels := map[string]string{engine.LabelApp: name, engine.LabelEnv: "production"}
	if nets, err := eng.NetworksByLabel(ctx, labels); err != nil || len(nets) == 0 {
		t.Fatalf("networks before removal: %v, %v; want the app's network", nets, err)
	}

	// Without --volumes: everything but the volume goes.
	code, out, errOut := s.berth(t, "env", "remove", name, "production")
	if code != 0 {
		t.Fatalf("env remove: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("berth env remove %s production:\n%s", name, out)
	for _, want := range []string{"route of web removed", "drained web release 1", "removed container", "removed network berth-" + name + "-production", "kept volume " + vol, "removed (", "berth releases " + name} {
		if !strings.Contains(out, want) {
			t.Errorf("env remove output lacks %q:\n%s", want, out)
		}
	}
	if cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name}); len(cs) != 0 {
		t.Errorf("containers after removal: %d", len(cs))
	}
	if code, _ := get(t, s.addrs.HTTP, host, "/"); code != 404 {
		t.Errorf("GET %s after removal: %d, want 404 (no route)", host, code)
	}
	if nets, _ := eng.NetworksByLabel(ctx, labels); len(nets) != 0 {
		t.Errorf("networks after removal: %v", nets)
	}
	if _, err := eng.InspectVolume(ctx, vol); err != nil {
		t.Fatalf("the volume went without --volumes: %v", err)
	}

	// The history stays, marked removed; status leaves it out but --all.
	code, out, _ = s.berth(t, "status")
	if code != 0 || strings.Contains(out, name+"/production") {
		t.Errorf("berth status lists the removed environment (exit %d):\n%s", code, out)
	}
	code, out, errOut = s.berth(t, "status", name)
	if code == 0 || !strings.Contains(errOut, "was removed") {
		t.Errorf("berth status %s: exit %d, want it to say it was removed:\n%s%s", name, code, out, errOut)
	}
	code, out, _ = s.berth(t, "status", "--all", "-o", "json")
	var sts []dto.EnvStatus
	if err := json.Unmarshal([]byte(out), &sts); code != 0 || err != nil {
		t.Fatalf("status --all -o json: exit %d, %v\n%s", code, err, out)
	}
	found := false
	for _, st := range sts {
		if st.App == name && st.Env == "production" {
			found = !st.RemovedAt.IsZero() && st.Live == nil
		}
	}
	if !found {
		t.Errorf("status --all does not list %s/production as removed:\n%s", name, out)
	}
	code, out, _ = s.berth(t, "releases", name)
	t.Logf("berth releases %s:\n%s", name, out)
	if code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("berth releases %s: exit %d, want release 1 marked removed:\n%s", name, code, out)
	}

	// --volumes needs a confirmation: without a terminal or --yes, nothing goes.
	code, _, errOut = s.berth(t, "env", "remove", name, "production", "--volumes")
	t.Logf("berth env remove %s production --volumes:\n%s", name, errOut)
	if code == 0 || !strings.Contains(errOut, "--yes") || !strings.Contains(errOut, vol) {
		t.Errorf("env remove --volumes without --yes: exit %d, want it to name %s and ask for --yes:\n%s", code, vol, errOut)
	}
	if _, err := eng.InspectVolume(ctx, vol); err != nil {
		t.Fatalf("the volume went without a confirmation: %v", err)
	}
	code, out, errOut = s.berth(t, "env", "remove", name, "production", "--volumes", "--yes", "-o", "json")
	if code != 0 {
		t.Fatalf("env remove --volumes --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	var dep dto.Deployment
	if err := json.Unmarshal([]byte(out), &dep); err != nil || dep.Kind != dto.KindRemove || dep.Status != "succeeded" {
		t.Errorf("-o json: %v, %+v; want the removal's record", err, dep)
	}
	if !strings.Contains(errOut, vol) || !strings.Contains(errOut, "deleted volume "+vol) {
		t.Errorf("--volumes --yes does not name the volume it deletes:\n%s", errOut)
	}
	if _, err := eng.InspectVolume(ctx, vol); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the volume is still there after --volumes --yes: %v", err)
	}

	// A deploy starts afresh: the next release number, a new empty volume.
	d2, err := s.deploy(t, volumeApp(t, name, host, "v2", ""))
	if err != nil {
		t.Fatal(err)
	}
	if d2.ReleaseID != 2 {
		t.Errorf("the release after the removal is %d, want 2 (numbers go on)", d2.ReleaseID)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); !strings.Contains(body, "v2") {
		t.Errorf("after the redeploy GET / = %q, want v2", body)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/read?path=/data/upload.txt"); code == 200 && body == "written-by-v1" {
		t.Errorf("the redeploy reads the deleted volume's data")
	}
	rels, err := s.client.Releases(ctx, name, "production")
	if err != nil || len(rels) != 2 || rels[0].Status != "live" || rels[1].Status != "removed" || rels[1].RemovedAt.IsZero() {
		t.Errorf("releases after the redeploy: %+v, %v; want 2 live, 1 removed", rels, err)
	}
	code, out, _ = s.berth(t, "status", name)
	if code != 0 || !strings.Contains(out, "release 2 live") {
		t.Errorf("berth status %s after the redeploy: exit %d\n%s", name, code, out)
	}

	// berth apps remove takes every environment, volumes confirmed.
	code, out, errOut = s.berth(t, "apps", "remove", name, "--volumes", "--yes")
	if code != 0 || !strings.Contains(out, name+" (production) removed") {
		t.Fatalf("apps remove: exit %d\n%s\n%s", code, out, errOut)
	}
	if cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name}); len(cs) != 0 {
		t.Errorf("containers after apps remove: %d", len(cs))
	}
	if _, err := eng.InspectVolume(ctx, vol); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the volume is still there after apps remove --volumes --yes: %v", err)
	}
}
