package enginetest_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

func TestFake_Contract(t *testing.T) {
	f := enginetest.NewFake()
	img := enginetest.TestImage{Ref: "berth-e2e-app:latest", ID: "sha256:0123456789abcdef"}
	f.PutImage(engine.Image{ID: img.ID, ExposedPorts: []int{8080}}, img.Ref)
	enginetest.Run(t, func(*testing.T) engine.Engine { return f }, img, enginetest.WithoutRuntime())
}

func newFakeWith(t *testing.T) (*enginetest.Fake, engine.Container) {
	t.Helper()
	f := enginetest.NewFake()
	f.AddImage("app:1", "")
	ctx := context.Background()
	if _, err := f.EnsureNetwork(ctx, "net", nil); err != nil {
		t.Fatal(err)
	}
	c, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "a", Image: "app:1", Network: "net", Labels: map[string]string{engine.LabelApp: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestFake_SetStateEmitsEvents(t *testing.T) {
	f, c := newFakeWith(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	events := f.Watch(ctx)
	if err := f.SetState(c.ID, engine.StateExited, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.SetState(c.ID, engine.StateRunning, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.SetOOMKilled(c.ID); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		select {
		case ev := <-events:
			got = append(got, string(ev.Type)+" "+ev.Labels["exitCode"])
		case <-ctx.Done():
			t.Fatalf("events %q", got)
		}
	}
	if want := "die 2|start |oom |die 137"; strings.Join(got, "|") != want {
		t.Fatalf("events %q, want %s", got, want)
	}
	ci, _ := f.InspectContainer(ctx, c.ID)
	if ci.State != engine.StateExited || ci.ExitCode != 137 || !ci.OOMKilled {
		t.Fatalf("after OOM: %+v", ci)
	}
	if err := f.SetState("nope", engine.StateExited, 1); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("unknown container: %v", err)
	}
}

func TestFake_LogsFollowEndsWhenTheContainerStops(t *testing.T) {
	f, c := newFakeWith(t)
	ctx := context.Background()
	f.AppendLog(c.ID, "one")
	rc, err := f.Logs(ctx, c.ID, engine.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f.AppendLog(c.ID, "two")
	go f.SetState(c.ID, engine.StateExited, 0)
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("followed %q %v", b, err)
	}
	rc, _ = f.Logs(ctx, c.ID, engine.LogOptions{Tail: 1})
	if b, _ := io.ReadAll(rc); string(b) != "two\n" {
		t.Fatalf("tail 1: %q", b)
	}
}

func TestFake_RunOnce(t *testing.T) {
	f, _ := newFakeWith(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	events := f.Watch(ctx)
	go func() {
		for ev := range events {
			if ev.Type == engine.EventStart && ev.Labels["name"] == "job" {
				f.AppendLog(ev.ContainerID, "migrated")
				f.SetState(ev.ContainerID, engine.StateExited, 3)
			}
		}
	}()
	var lines []string
	code, err := engine.RunOnce(ctx, f, engine.ContainerSpec{Name: "job", Image: "app:1"}, func(l string) { lines = append(lines, l) })
	if err != nil || code != 3 {
		t.Fatalf("RunOnce: %d %v", code, err)
	}
	if _, err := f.InspectContainer(ctx, "job"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("one-off container left behind: %v", err)
	}
	_ = lines // output may race with the exit, as on a real engine
}

func TestFake_ImagesPullPushRemoveAndFailures(t *testing.T) {
	f, c := newFakeWith(t)
	ctx := context.Background()
	if err := f.PullImage(ctx, "reg.example/app:2", nil, nil); !errors.Is(err, engine.ErrImageNotFound) {
		t.Fatalf("pull of a missing image: %v", err)
	}
	f.AddRemoteImage("reg.example/app:2", "")
	if err := f.PullImage(ctx, "reg.example/app:2", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.InspectImage(ctx, "reg.example/app:2"); err != nil {
		t.Fatal(err)
	}
	if err := f.PushImage(ctx, "reg.example/app:2", nil, nil); err != nil || len(f.Pushed()) != 1 {
		t.Fatalf("push: %v %v", err, f.Pushed())
	}
	if err := f.RemoveImage(ctx, c.ImageID); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("removing an image in use: %v", err)
	}
	boom := errors.New("boom")
	f.FailNext("CreateContainer", boom)
	if _, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "b", Image: "app:1"}); !errors.Is(err, boom) {
		t.Fatalf("injected failure: %v", err)
	}
	if _, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "b", Image: "app:1"}); err != nil {
		t.Fatalf("after the injected failure: %v", err)
	}
	if _, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "d", Image: "app:1", Network: "missing"}); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("unknown network: %v", err)
	}
}

func TestFake_WorkloadsContract(t *testing.T) {
	enginetest.RunWorkloads(t, enginetest.NewFake(), engine.ContainerSpec{Image: "app:1"})
}

// A rollout made to fail rolls back (the old instances stay), and a
// drained node's instances move to the other nodes.
func TestFake_FailedRolloutAndDrain(t *testing.T) {
	f := enginetest.NewFake()
	ctx := context.Background()
	spec := engine.WorkloadSpec{Name: "shop-web", Replicas: 3, Labels: map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "1"},
		Template: engine.ContainerSpec{Image: "shop:1"}, Update: engine.UpdatePolicy{FailureAction: engine.FailureRollback}}
	if _, err := f.ApplyWorkload(ctx, spec); err != nil {
		t.Fatal(err)
	}
	before, _ := f.ListInstances(ctx, nil)
	f.FailNextRollout("shop-web", "task: non-zero exit (1)")
	spec.Labels = map[string]string{engine.LabelApp: "shop", engine.LabelRelease: "2"}
	spec.Template.Image = "shop:2"
	if _, err := f.ApplyWorkload(ctx, spec); err != nil {
		t.Fatal(err)
	}
	st, _ := f.InspectWorkload(ctx, "shop-web")
	after, _ := f.ListInstances(ctx, nil)
	if st.Update != engine.UpdateRollbackCompleted || st.Message == "" || st.Labels[engine.LabelRelease] != "1" || len(after) != 3 || after[0].ID != before[0].ID {
		t.Fatalf("failed rollout: %+v %+v", st, after)
	}
	if err := f.SetNodeAvailability(ctx, "node2", engine.AvailabilityDrain); err != nil {
		t.Fatal(err)
	}
	ins, _ := f.ListInstances(ctx, nil)
	for _, in := range ins {
		if in.Node == "node2" || !in.Serving() {
			t.Errorf("after the drain: %+v", in)
		}
	}
	if len(ins) != 3 {
		t.Errorf("%d instances after the drain", len(ins))
	}
}
