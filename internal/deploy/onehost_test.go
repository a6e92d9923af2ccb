package deploy

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/spec"
)

// The deploy keys only a cluster applies are named for a deploy to one
// host, each with its service; a service without them is not.
func TestOneHostNotes_NameClusterOnlyKeys(t *testing.T) {
	t.Parallel()
	one := uint64(1)
	app := &spec.App{Services: []spec.Service{
		{Name: "db"},
		{Name: "web", Rollout: &spec.Rollout{
			Update:          &spec.UpdateConfig{Parallelism: &one},
			Constraints:     []string{"node.role==manager"},
			ReserveNanoCPUs: 5e8,
		}},
	}}
	got := oneHostNotes(app)
	want := []string{
		`service "web": deploy.update_config has no effect on one host`,
		`service "web": deploy.placement has no effect on one host`,
		`service "web": deploy.resources.reservations.cpus has no effect on one host`,
	}
	if len(got) != len(want) {
		t.Fatalf("notes:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("note %d = %q, want it to start with %q", i, got[i], want[i])
		}
	}
}
