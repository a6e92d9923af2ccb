package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/berth-dev/berth/internal/"

// rule is what one package under internal/ may import of ours, directly.
// Since every package has a rule, a package's transitive imports are
// bounded by its rule's closure: apiclient, allowed api/dto and spec, can
// reach nothing else because neither of them can.
type rule struct {
	may []string
	// tests marks a package that holds tests (or a helper binary for
	// them) rather than code: its tests' imports are held to the rule
	// too.
	tests bool
}

// rules states the layering of CONVENTIONS.md: requests flow down, events
// flow back up as return values and channels, never as imports. A rule
// may name a package that does not exist yet; it holds the moment the
// package appears. Every package under internal/ needs a rule.
var rules = map[string]rule{
	"spec":    {},
	"metrics": {},
	"store":   {may: []string{"spec"}},

	"engine":            {},
	"engine/docker":     {may: []string{"engine"}},
	"engine/swarm":      {may: []string{"engine", "engine/docker"}}, // images, builds, volumes: node-local, on the manager's engine
	"engine/enginetest": {may: []string{"engine"}},

	// The proxy's byte-level rooms know bytes, not routes.
	"proxy/wire":     {},
	"proxy/certs":    {},
	"proxy/upstream": {may: []string{"proxy/wire"}},
	"proxy/h1":       {may: []string{"proxy/wire"}},
	"proxy":          {may: []string{"proxy/wire", "proxy/certs", "proxy/upstream", "proxy/h1", "metrics"}},
	"proxy/l4":       {}, // TCP/UDP forwarder of published ports

	"deploy":    {may: []string{"spec", "store", "engine", "proxy", "proxy/l4", "metrics"}},
	"reconcile": {may: []string{"spec", "store", "engine", "deploy"}},
	"build":     {may: []string{"spec", "store", "engine"}},
	"autoscale": {may: []string{"spec", "store", "metrics"}},
	"webhook":   {may: []string{"spec"}},
	"notify":    {},
	"volhelper": {}, // runs inside berth's helper container (berth volume-helper)

	// The API's wire types are its own; a client links none of the server.
	"api/dto":   {may: []string{"spec"}},
	"api":       {may: []string{"api/dto", "spec", "store", "deploy", "build", "engine", "notify", "webhook"}}, // engine: log options; notify, webhook: the pipeline's edges
	"web":       {may: []string{"api", "api/dto"}},
	"apiclient": {may: []string{"api/dto", "spec"}},

	// The one composition root: all but cli and the test helpers.
	"daemon": {may: []string{"spec", "metrics", "store", "engine", "engine/docker", "engine/swarm",
		"proxy", "proxy/l4", "proxy/wire", "proxy/certs", "proxy/upstream", "proxy/h1",
		"deploy", "reconcile", "build", "autoscale", "webhook", "notify", "api", "api/dto", "web"}},
	// build: contexts are packed and hashed on the client; proxy,
	// proxy/certs, engine/docker: defaults of berth server's flags.
	"cli": {may: []string{"daemon", "apiclient", "api/dto", "spec", "build", "proxy", "proxy/certs", "engine/docker", "volhelper"}},

	// Packages for tests.
	"arch":                      {tests: true},
	"testutil":                  {tests: true},
	"acmetest":                  {may: []string{"testutil"}, tests: true},
	"engine/enginetest/testapp": {tests: true}, // the image the contract suite runs
	"engine/swarm/swarmtest":    {may: []string{"engine", "engine/enginetest"}, tests: true},
	"proxy/benchproxy":          {may: []string{"proxy"}, tests: true},
	"e2e/standin":               {tests: true}, // a stand-in for the images of the corpus
	// The end-to-end tests drive the binary's parts as a user would.
	"e2e": {tests: true, may: []string{"cli", "daemon", "apiclient", "api/dto", "spec", "deploy",
		"engine", "engine/docker", "engine/enginetest", "webhook", "testutil", "acmetest",
		"store"}}, // store: what a berth killed mid-restore left, seeded between two servers
	"e2e/cluster": {tests: true, may: []string{"daemon", "apiclient", "api/dto", "spec",
		"engine", "engine/enginetest", "engine/swarm", "engine/swarm/swarmtest", "testutil"}},
}

// pkg is what go list says of a package.
type pkg struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
	Error                              *struct{ Err string }
}

// listPackages lists every package under internal/ in one go list.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", mod+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("read go list: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages under internal/")
	}
	return pkgs
}

// watchSources stats every Go file under internal/, so that go test's
// cache, which sees only the files the test itself opens (not go list's),
// reruns the test when one changes or appears.
func watchSources(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk internal/: %v", err)
	}
}

// ours is the package path under internal/ of an import, if it is one.
func ours(path string) (string, bool) { return strings.CutPrefix(path, mod) }

func TestLayering_PackagesImportOnlyWhatTheyMay(t *testing.T) {
	t.Parallel()
	watchSources(t)
	for _, p := range listPackages(t) {
		name, _ := ours(p.ImportPath)
		r, ok := rules[name]
		if !ok {
			t.Errorf("internal/%s has no rule: add it to the table in internal/arch/layering_test.go, with what it may import (see CONVENTIONS.md)", name)
			continue
		}
		imports := p.Imports
		if r.tests {
			imports = slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		}
		var bad []string
		for _, imp := range imports {
			if dep, ok := ours(imp); ok && dep != name && !slices.Contains(r.may, dep) && !slices.Contains(bad, dep) {
				bad = append(bad, dep)
			}
		}
		slices.Sort(bad)
		if len(bad) > 0 {
			t.Errorf("internal/%s imports %v, which its rule does not allow (may: %v)", name, bad, r.may)
		}
	}
}

// A rule names only packages that have rules of their own: a typo would
// otherwise allow nothing, silently.
func TestLayering_RulesNameKnownPackages(t *testing.T) {
	t.Parallel()
	for name, r := range rules {
		for _, dep := range r.may {
			if _, ok := rules[dep]; !ok {
				t.Errorf("the rule of %s allows %s, which has no rule", name, dep)
			}
		}
	}
}
