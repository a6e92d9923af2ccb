package spec

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// loadCase loads testdata case path (a .yaml file), applying NAME.override.yaml
// after it when present and using the variables in NAME.environ
// (KEY=VALUE lines) when present.
func loadCase(t *testing.T, path string) (*App, error) {
	t.Helper()
	base := strings.TrimSuffix(path, ".yaml")
	files := []string{path}
	if _, err := os.Stat(base + ".override.yaml"); err == nil {
		files = append(files, base+".override.yaml")
	}
	var environ map[string]string
	if f, err := os.Open(base + ".environ"); err == nil {
		defer f.Close()
		environ = map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				environ[k] = v
			}
		}
	}
	return Load(context.Background(), LoadOptions{Files: files, Environ: environ})
}

// cases lists the primary .yaml files in dir (not the overrides).
func cases(t *testing.T, dir string) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		if !strings.HasSuffix(p, ".override.yaml") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no test cases in testdata/%s", dir)
	}
	return out
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update to accept)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func TestLoad_Valid(t *testing.T) {
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range cases(t, "valid") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			app, err := loadCase(t, path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := app.Validate(); err != nil {
				t.Errorf("Validate on a loaded app: %v", err)
			}
			b, err := json.MarshalIndent(app, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// Bind mount sources are absolute: make them machine-independent.
			out := strings.ReplaceAll(string(b), testdata, "$TESTDATA") + "\n"
			golden(t, strings.TrimSuffix(path, ".yaml")+".golden.json", []byte(out))

			// The JSON form is what the server receives: it must read back
			// to an equal, valid App.
			var back App
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			b2, _ := json.MarshalIndent(&back, "", "  ")
			if string(b2) != string(b) {
				t.Errorf("JSON round trip changed the app:\n%s\n---\n%s", b2, b)
			}
		})
	}
}

func TestLoad_Invalid(t *testing.T) {
	for _, path := range cases(t, "invalid") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			app, err := loadCase(t, path)
			if err == nil {
				t.Fatalf("Load succeeded, want an error; app: %+v", app)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *spec.Error: %v", err, err)
			}
			golden(t, strings.TrimSuffix(path, ".yaml")+".err", []byte(err.Error()+"\n"))
		})
	}
}

func TestApp_ForEnvAppliesHostsAndVariables(t *testing.T) {
	app, err := Load(context.Background(), LoadOptions{Files: []string{"testdata/valid/environments.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	st := app.ForEnv("staging")
	web, _ := st.Service("web")
	worker, _ := st.Service("worker")
	if len(web.Hosts) != 1 || web.Hosts[0] != "staging.shop.example.com" || web.Environment["LOG_LEVEL"] != "debug" || worker.Environment["LOG_LEVEL"] != "debug" {
		t.Fatalf("staging: %+v %+v", web, worker)
	}
	if orig, _ := app.Service("web"); orig.Hosts[0] != "shop.example.com" || orig.Environment["LOG_LEVEL"] != "" {
		t.Fatalf("ForEnv changed the original: %+v", orig)
	}
	if app.ForEnv("unknown") != app {
		t.Fatal("an environment the file does not describe gets the file as it is")
	}
	if m := app.BranchEnvs(); m["master"] != "staging" || m["production"] != "production" {
		t.Fatalf("branch map: %v", m)
	}
}
