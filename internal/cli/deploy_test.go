package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
)

// fakeAPI is a berth API that answers config reads with 404 (a new app)
// and deploys with success, and records what it was asked.
type fakeAPI struct {
	mu       sync.Mutex
	configs  []string // paths of the config reads
	deployed []spec.App
	result   dto.Deployment
}

func startFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{result: dto.Deployment{ReleaseID: 1, Kind: "deploy", StartedAt: time.Unix(0, 0), EndedAt: time.Unix(1, 0)}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/config"):
			f.configs = append(f.configs, r.URL.Path)
			http.Error(w, `{"error":"no such app"}`, http.StatusNotFound)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/check"): // binds.go
			json.NewEncoder(w).Encode(dto.CheckResponse{MissingBinds: []string{}})
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/deploy"):
			var app spec.App
			if err := json.NewDecoder(r.Body).Decode(&app); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.deployed = append(f.deployed, app)
			dep := f.result
			dep.App, dep.Env = app.Name, "production"
			json.NewEncoder(w).Encode(dto.StreamEvent{Result: &dto.Result{OK: true, Deployment: &dep}})
		default:
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("BERTH_ADDR", srv.URL)
	t.Setenv("BERTH_TOKEN", "test")
	return f
}

// setComposeProjectName sets COMPOSE_PROJECT_NAME for the test, or
// unsets it when v is "" (exported but empty, it would hide a .env
// file's, as in docker compose).
func setComposeProjectName(t *testing.T, v string) {
	t.Helper()
	t.Setenv("COMPOSE_PROJECT_NAME", v)
	if v == "" {
		os.Unsetenv("COMPOSE_PROJECT_NAME")
	}
}

// composeIn writes compose.yaml (and more files, name → content) into a
// directory named dir and returns the Compose file's path.
func composeIn(t *testing.T, dir, compose string, more ...string) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(more); i += 2 {
		if err := os.WriteFile(filepath.Join(d, more[i]), []byte(more[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(d, "compose.yaml")
	if err := os.WriteFile(p, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeploy_AppNamePrecedence(t *testing.T) {
	const services = "services:\n  web:\n    image: nginx\n"
	cases := []struct {
		name    string
		dir     string
		compose string
		env     string // COMPOSE_PROJECT_NAME in the shell
		args    []string
		dotEnv  string
		want    string
		says    string // a line the output must have
	}{
		{name: "the directory", dir: "My_Shop", compose: services, want: "my-shop",
			says: `app name "my-shop", from the directory "My_Shop" (a top-level name: in compose.yaml or --app NAME sets another)`},
		{name: "name: over the directory", dir: "shop", compose: "name: store\n" + services, want: "store"},
		{name: "COMPOSE_PROJECT_NAME over name:", dir: "shop", compose: "name: store\n" + services, env: "outlet", want: "outlet",
			says: `app name "outlet", from COMPOSE_PROJECT_NAME`},
		{name: "COMPOSE_PROJECT_NAME from .env", dir: "shop", compose: "name: store\n" + services, dotEnv: "COMPOSE_PROJECT_NAME=outlet\n", want: "outlet",
			says: `app name "outlet", from COMPOSE_PROJECT_NAME`},
		{name: "--app over everything", dir: "shop", compose: "name: store\n" + services, env: "outlet", args: []string{"--app", "given"}, want: "given"},
		{name: "-p as docker compose", dir: "shop", compose: "name: store\n" + services, env: "outlet", args: []string{"-p", "given"}, want: "given"},
		{name: "--app without name: or directory", dir: "日本", compose: services, args: []string{"--app", "given"}, want: "given"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := startFakeAPI(t)
			setComposeProjectName(t, tc.env)
			var more []string
			if tc.dotEnv != "" {
				more = []string{".env", tc.dotEnv}
			}
			file := composeIn(t, tc.dir, tc.compose, more...)
			var out, errOut bytes.Buffer
			if code := Main(append([]string{"deploy", "-f", file}, tc.args...), &out, &errOut); code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
			}
			if len(api.deployed) != 1 || api.deployed[0].Name != tc.want {
				t.Fatalf("deployed %+v, want one app named %q", api.deployed, tc.want)
			}
			// The configuration for ${VAR} is read by the same name.
			if want := "/api/v1/apps/" + tc.want + "/envs/production/config"; len(api.configs) != 1 || api.configs[0] != want {
				t.Errorf("config reads %v, want %s", api.configs, want)
			}
			if tc.says != "" && !strings.Contains(out.String(), tc.says+"\n") {
				t.Errorf("output lacks %q:\n%s", tc.says, out.String())
			}
			if tc.says == "" && strings.Contains(out.String(), "app name") {
				t.Errorf("output says where a name given or written in the file came from:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "deploying "+tc.want+" to production") {
				t.Errorf("output does not name the app:\n%s", out.String())
			}
		})
	}
}

func TestDeploy_BadAppNamesAreRefusedBeforeTheServer(t *testing.T) {
	const services = "services:\n  web:\n    image: nginx\n"
	cases := []struct {
		name, dir, compose, env string
		args                    []string
		want                    string
	}{
		{name: "--app", dir: "shop", compose: services, args: []string{"--app", "Shop"},
			want: `berth: --app: "Shop" is not a valid app name: use lowercase letters, digits and '-'`},
		{name: "COMPOSE_PROJECT_NAME", dir: "shop", compose: services, env: "my_shop",
			want: `berth: COMPOSE_PROJECT_NAME: "my_shop" is not a valid app name`},
		{name: "name:", dir: "shop", compose: "name: My Shop\n" + services,
			want: `compose.yaml: name: "My Shop" is not a valid app name`},
		{name: "a directory that gives no name", dir: "2048", compose: services,
			want: `compose.yaml: name: required: the directory name "2048" gives "2048", but an app name must start with a letter; set a top-level name: for the app (e.g. name: shop), or pass one to berth deploy --app`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := startFakeAPI(t)
			setComposeProjectName(t, tc.env)
			var out, errOut bytes.Buffer
			code := Main(append([]string{"deploy", "-f", composeIn(t, tc.dir, tc.compose)}, tc.args...), &out, &errOut)
			if code == 0 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant it to say %s", code, errOut.String(), tc.want)
			}
			if len(api.configs)+len(api.deployed) != 0 {
				t.Errorf("the server was asked: configs %v, deployed %v", api.configs, api.deployed)
			}
		})
	}
}

func TestReportOutcome_TallyOnlyWithLiveTraffic(t *testing.T) {
	const tally = "requests during the deploy"
	cases := []struct {
		name string
		dep  dto.Deployment
		want string // the tally line, "" for none
	}{
		{"a first deploy", dto.Deployment{}, ""},
		{"an app without hosts", dto.Deployment{FromReleaseID: 3}, ""},
		{"a routed app", dto.Deployment{Counted: true, Served: 48211}, "served 48,211 requests during the deploy, 0 failed\n"},
		{"a routed app nobody called", dto.Deployment{Counted: true}, "served 0 requests during the deploy, 0 failed\n"},
		{"a server that does not say", dto.Deployment{Served: 12, Failed: 1}, "served 12 requests during the deploy, 1 failed\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dep := tc.dep
			dep.App, dep.Env, dep.Kind, dep.ReleaseID = "shop", "production", "deploy", 4
			var b bytes.Buffer
			if err := reportOutcome(&b, &dep, nil); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if tc.want == "" && strings.Contains(out, tally) || tc.want != "" && !strings.Contains(out, tc.want) {
				t.Errorf("output:\n%s\nwant tally %q", out, tc.want)
			}
			if !strings.Contains(out, "release 4 of shop/production is live") {
				t.Errorf("output lacks the outcome:\n%s", out)
			}
		})
	}
}
