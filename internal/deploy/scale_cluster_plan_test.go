package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// tasks builds one running task per "slot@node" (a "~" before the slot
// makes it a starting one), desired running.
func tasks(specs ...string) []engine.Instance {
	var out []engine.Instance
	for i, s := range specs {
		state := engine.StateRunning
		if rest, ok := strings.CutPrefix(s, "~"); ok {
			s, state = rest, engine.StateCreated
		}
		var slot int
		var node string
		fmt.Sscanf(strings.Replace(s, "@", " ", 1), "%d %s", &slot, &node)
		out = append(out, engine.Instance{ID: fmt.Sprintf("t%d-%s", i, s), Slot: slot, NodeID: node, Node: node,
			State: state, Desired: engine.DesiredRunning, Labels: map[string]string{engine.LabelService: "web"}})
	}
	return out
}

func slotsOf(ts []engine.Instance) []string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%d@%s", t.Slot, t.Node))
	}
	slices.Sort(out)
	return out
}

func TestSwarmScaleInVictims_FollowsSwarmsChoice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tasks []string
		n     int
		want  []string
	}{
		// The layouts and choices seen on the 3-node lab (Engine 20.10).
		{"balanced, highest slots go", []string{"1@n2", "2@n3", "3@n1", "4@n2", "5@n3"}, 3, []string{"4@n2", "5@n3"}},
		{"6 to 2", []string{"1@n2", "2@n3", "3@n1", "4@n1", "5@n2", "6@n3"}, 2, []string{"3@n1", "4@n1", "5@n2", "6@n3"}},
		{"7 to 3", []string{"1@n2", "2@n3", "3@n1", "4@n1", "5@n1", "6@n2", "7@n3"}, 3, []string{"4@n1", "5@n1", "6@n2", "7@n3"}},
		{"5 to 1", []string{"1@n2", "2@n3", "3@n1", "4@n3", "5@n2"}, 1, []string{"2@n3", "3@n1", "4@n3", "5@n2"}},
		// Node balance comes before the slot: web.2 is node1's second.
		{"node balance first", []string{"1@n1", "2@n1", "3@n2"}, 2, []string{"2@n1"}},
		{"crowded node loses", []string{"1@n1", "2@n2", "3@n1", "4@n1", "5@n3"}, 3, []string{"3@n1", "4@n1"}},
		// A task not running yet goes before a running one on its node.
		{"starting goes first", []string{"1@n1", "~2@n2", "3@n2"}, 2, []string{"2@n2"}},
		{"nothing to remove", []string{"1@n1", "2@n2"}, 2, nil},
		{"to zero", []string{"1@n1", "2@n2"}, 0, []string{"1@n1", "2@n2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := slotsOf(swarmScaleInVictims(tasks(tc.tasks...), tc.n))
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("scale %v to %d: removes %v, want %v", tc.tasks, tc.n, got, want)
			}
		})
	}
}

func TestSwarmScaleInVictims_IgnoresTasksOnTheirWayOut(t *testing.T) {
	ts := tasks("1@n1", "2@n2", "3@n3")
	ts[2].Desired = engine.DesiredShutdown // being replaced: not a slot
	got := slotsOf(swarmScaleInVictims(ts, 1))
	if !slices.Equal(got, []string{"2@n2"}) {
		t.Fatalf("removes %v, want [2@n2]", got)
	}
}

// Property: whatever the layout, exactly len(slots)-n tasks go, no node
// keeps two more tasks than another would have to, and the order of the
// input does not matter.
func TestSwarmScaleInVictims_Properties(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	for layout := range 3 * 3 * 3 * 3 * 3 * 3 {
		var specs []string
		l := layout
		for slot := 1; slot <= 6; slot++ {
			specs = append(specs, fmt.Sprintf("%d@%s", slot, nodes[l%3]))
			l /= 3
		}
		for n := range 7 {
			ts := tasks(specs...)
			got := swarmScaleInVictims(ts, n)
			if len(got) != 6-n {
				t.Fatalf("%v to %d: removes %d tasks, want %d", specs, n, len(got), 6-n)
			}
			rev := slices.Clone(ts)
			slices.Reverse(rev)
			if a, b := slotsOf(got), slotsOf(swarmScaleInVictims(rev, n)); !slices.Equal(a, b) {
				t.Fatalf("%v to %d: %v, reversed input %v", specs, n, a, b)
			}
			kept := map[string]int{}
			perNode := map[string]int{}
			for _, t := range ts {
				perNode[t.Node]++
				if !slices.ContainsFunc(got, func(g engine.Instance) bool { return g.ID == t.ID }) {
					kept[t.Node]++
				}
			}
			// A node keeps two fewer than another only when it keeps all it had.
			for _, a := range nodes {
				for _, b := range nodes {
					if kept[a] < kept[b]-1 && kept[a] != perNode[a] {
						t.Fatalf("%v to %d: kept %v of %v: not balanced", specs, n, kept, perNode)
					}
				}
			}
		}
	}
}

func TestPlanClusterScale_Refusals(t *testing.T) {
	app := &spec.App{Name: "shop", Services: []spec.Service{
		{Name: "web", Replicas: 2, Port: 8080, Hosts: []string{"shop.test"}, Ports: []spec.Port{{Target: 8080, Published: 8080}}},
		{Name: "worker", Replicas: 1},
	}}
	steps, err := planClusterScale(app, 3, []ScaleTarget{{Service: "web", Replicas: 5}, {Service: "worker", Replicas: 0}})
	if err != nil {
		t.Fatalf("ports on swarm are Swarm's to publish: %v", err)
	}
	if len(steps) != 2 || steps[0].to != 5 || steps[0].svc.Replicas != 5 || steps[1].to != 0 {
		t.Fatalf("steps %+v", steps)
	}
	for _, tc := range []struct {
		target ScaleTarget
		want   string
	}{
		{ScaleTarget{Service: "nope", Replicas: 1}, `service "nope" is not in release 3`},
		{ScaleTarget{Service: "web", Replicas: 0}, "needs at least one replica"},
		{ScaleTarget{Service: "web", Replicas: -1}, "give a count of 0 or more"},
		{ScaleTarget{Service: "web", Replicas: maxScale + 1}, "scale in steps"},
	} {
		_, err := planClusterScale(app, 3, []ScaleTarget{tc.target})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want it to say %q", tc.target, err, tc.want)
		}
	}
}

func TestNoRoomAdvice_SaysWhatToChange(t *testing.T) {
	for _, tc := range []struct{ pending, want string }{
		// Swarm's errors, as seen on the lab (Engine 20.10).
		{"waiting on web.7 created (no suitable node (insufficient resources on 3 nodes))", "lower the reservations"},
		{"waiting on web.4 created (no suitable node (host-mode port already in use on 3 nodes))", "one task of web run per node"},
		{"waiting on web.4 created", ""},
	} {
		got := noRoomAdvice(tc.pending, "web")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%q: advice %q, want it to say %q", tc.pending, got, tc.want)
		}
	}
}
