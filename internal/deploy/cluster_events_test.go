package deploy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

func task(id string, slot int, state engine.State, desired engine.DesiredState) engine.Instance {
	return engine.Instance{ID: id, Slot: slot, Node: "node2", State: state, Desired: desired,
		Labels: map[string]string{engine.LabelService: "web", engine.LabelRelease: "3"}}
}

func TestLeftTasks_StoppedOnPurposeIsNotLeft(t *testing.T) {
	prev := map[string]engine.Instance{
		"a": task("a", 1, engine.StateRunning, engine.DesiredRunning),
		"b": task("b", 2, engine.StateRunning, engine.DesiredRunning),
		"c": task("c", 3, engine.StateRunning, engine.DesiredRunning),
		"d": task("d", 4, engine.StateRunning, engine.DesiredRunning),
	}
	now := []engine.Instance{
		task("a", 1, engine.StateRunning, engine.DesiredRunning),
		task("b", 2, engine.StateRunning, engine.DesiredRemove), // scaled in, still stopping
		// c is gone from the list; d was replaced in its slot by e
		task("e", 4, engine.StateCreated, engine.DesiredRunning),
	}
	left, next := leftTasks(prev, now)
	if len(left) != 2 || left[0].ID != "c" || left[1].ID != "d" {
		t.Fatalf("left = %+v; want c and d", left)
	}
	if len(next) != 2 || next["a"].ID != "a" || next["e"].ID != "e" {
		t.Fatalf("next = %+v; want a and e", next)
	}
}

func TestTaskEndEvent_OnlyTasksThatEndedByThemselves(t *testing.T) {
	last := task("c", 3, engine.StateRunning, engine.DesiredRunning)
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		ended engine.Instance
		err   error
		want  string // "" for no event
	}{
		{"exited", engine.Instance{Ended: "failed", ExitCode: 2, Error: "task: non-zero exit (2)"}, nil, "task web.3@node2 exited with code 2 (task: non-zero exit (2)): Swarm starts a new task"},
		{"node lost", engine.Instance{Ended: "orphaned"}, nil, "task web.3@node2 was lost with its node"},
		{"rejected", engine.Instance{Ended: "rejected", Error: "no such image"}, nil, "was rejected by its node (no such image)"},
		{"stopped by the cluster", engine.Instance{Ended: "shutdown"}, nil, ""},
		{"still running", engine.Instance{}, nil, ""},
		{"deleted", engine.Instance{}, engine.ErrNotFound, ""},
		{"unknown", engine.Instance{}, errors.New("connection refused"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := taskEndEvent(last, tc.ended, tc.err, now)
			if tc.want == "" {
				if ok {
					t.Fatalf("event %+v for a task that did not end by itself", e)
				}
				return
			}
			if !ok || e.Kind != EventReplaced || e.Service != "web" || e.Release != "3" || !strings.Contains(e.Message, tc.want) || !e.Time.Equal(now) {
				t.Fatalf("event %+v, %v; want a %s event saying %q", e, ok, EventReplaced, tc.want)
			}
		})
	}
}

func TestClusterReplacing_CountsStartingTasksUpToWhatIsMissing(t *testing.T) {
	c := func(state engine.State, rel string) engine.Container {
		return engine.Container{State: state, Labels: map[string]string{engine.LabelService: "web", engine.LabelRelease: rel}}
	}
	cs := []engine.Container{c(engine.StateRunning, "3"), c(engine.StateRunning, "3"), c(engine.StateCreated, "3"), c(engine.StateCreated, "2"), c(engine.StateRemoving, "3")}
	if n := clusterReplacing(cs, "web", "3", 3, 2); n != 1 {
		t.Errorf("2/3 healthy with one task starting: %d replacing, want 1", n)
	}
	if n := clusterReplacing(cs, "web", "3", 2, 2); n != 0 {
		t.Errorf("2/2 healthy: %d replacing, want 0", n)
	}
}
