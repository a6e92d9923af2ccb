package arch

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const mod = "github.com/berth-dev/berth/internal/"

// allowed lists, per package, the project packages it may import
// (directly or not). A package not listed may import nothing of ours.
var allowed = map[string][]string{
	"spec":              {},
	"store":             {"spec"},
	"engine":            {},
	"engine/docker":     {"engine"},
	"engine/swarm":      {"engine", "engine/docker"}, // images, builds, volumes: node-local, on the manager's engine
	"engine/enginetest": {"engine"},
	"proxy":             {},
	"proxy/l4":          {}, // TCP/UDP forwarder of published ports: imports nothing of ours
	"proxy/certs":       {}, // certificate store and ACME, told the routes by the daemon: imports nothing of ours
	"deploy":            {"spec", "store", "engine", "proxy", "proxy/l4", "metrics"},
	"reconcile":         {"engine"},
	"build":             {"spec", "store", "engine"},
	"webhook":           {},
	"notify":            {},
	"metrics":           {},
	"testutil":          {}, // helpers shared by tests
	"acmetest":          {"testutil"},
	"api":               {"spec", "store", "deploy", "engine", "proxy", "proxy/l4", "build", "webhook", "notify", "metrics"},
	"apiclient":         {"api", "spec", "store", "deploy", "engine", "proxy", "proxy/l4", "build", "webhook", "notify", "metrics"},
	"daemon":            {"spec", "store", "deploy", "engine", "engine/docker", "engine/swarm", "proxy", "proxy/l4", "proxy/certs", "api", "reconcile", "build", "webhook", "notify", "metrics"},
	"cli":               {"spec", "store", "deploy", "engine", "engine/docker", "engine/swarm", "proxy", "proxy/l4", "proxy/certs", "api", "reconcile", "apiclient", "daemon", "build", "webhook", "notify", "metrics"},
}

func TestLayering_PackagesImportOnlyWhatTheyMay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		may := map[string]bool{pkg: true}
		for _, p := range ok {
			may[p] = true
		}
		var bad []string
		for _, dep := range strings.Fields(string(out)) {
			if rest, found := strings.CutPrefix(dep, mod); found && !may[rest] {
				bad = append(bad, rest)
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("internal/%s imports %v, which CONVENTIONS.md does not allow", pkg, bad)
		}
	}
}
