package spec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDuration_JSONRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 500 * time.Millisecond, 1500 * time.Millisecond, 90 * time.Second, 3 * time.Hour} {
		b, err := json.Marshal(Duration(d))
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + d.String() + `"`; string(b) != want {
			t.Errorf("Marshal(%v) = %s, want %s", d, b, want)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if back.D() != d {
			t.Errorf("round trip of %v gave %v", d, back.D())
		}
	}
	var n Duration
	if err := json.Unmarshal([]byte("2000000000"), &n); err != nil || n.D() != 2*time.Second {
		t.Errorf("Unmarshal(nanoseconds) = %v, %v; want 2s", n.D(), err)
	}
	for _, bad := range []string{`"fast"`, `"1x"`, `1.5`, `true`} {
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", bad)
		}
	}
}

func TestError_Shape(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "compose.yaml", Service: "web", Field: "x-berth.port", Msg: "must be between 1 and 65535, got 70000"},
			`compose.yaml: service "web": x-berth.port: must be between 1 and 65535, got 70000`},
		{Error{File: "compose.yaml", Field: "name", Msg: "required"}, `compose.yaml: name: required`},
		{Error{Service: "web", Msg: "defined twice"}, `service "web": defined twice`},
		{Error{Msg: "no Compose file given"}, `no Compose file given`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// validApp loads the full example, an App that passes Validate.
func validApp(t *testing.T) *App {
	t.Helper()
	app, err := Load(context.Background(), LoadOptions{Files: []string{"testdata/valid/full.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestApp_Validate(t *testing.T) {
	if err := validApp(t).Validate(); err != nil {
		t.Fatalf("valid app: %v", err)
	}
	const f = "testdata/valid/full.yaml: "
	for _, tc := range []struct {
		name   string
		mutate func(a *App)
		want   []string // every line of the error, in order
	}{
		{"no name", func(a *App) { a.Name = "" }, []string{
			f + "name: required: set a top-level name: for the app (e.g. name: shop), or pass one to berth deploy --app"}},
		{"bad name", func(a *App) { a.Name = "shop-" }, []string{
			f + `name: "shop-" is not a valid app name: use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most 40 characters`}},
		{"no services", func(a *App) { a.Services = nil }, []string{f + "services: at least one service is required"}},
		{"no files, no image", func(a *App) { a.Files = nil; a.Services[1].Image = "" }, []string{
			`service "worker": image: required: set image: to the image to run (e.g. registry.example/shop:3f2a9c1)`}},
		{"duplicate service", func(a *App) { a.Services[1].Name = "web" }, []string{f + `service "web": defined twice`}},
		{"replicas", func(a *App) { a.Services[0].Replicas = 0 }, []string{f + `service "web": deploy.replicas: must be at least 1, got 0`}},
		{"port and hosts", func(a *App) {
			a.Services[0].Port = 70000
			a.Services[1].Hosts = []string{"Shop.example.com"}
		}, []string{
			f + `service "web": x-berth.port: must be between 1 and 65535, got 70000`,
			f + `service "worker": x-berth.hosts[0]: "Shop.example.com" must be lowercase`,
			f + `service "worker": x-berth.port: required when x-berth.hosts is set: set it to the port the app listens on inside the container (e.g. port: 8080)`,
		}},
		{"duplicate host", func(a *App) {
			a.Services[1].Port = 80
			a.Services[1].Hosts = []string{"www.shop.example.com"}
		}, []string{f + `service "worker": x-berth.hosts[0]: "www.shop.example.com" is also routed to service "web"; a host name can be routed to one service only (give the services different x-berth.paths to share it)`}},
		{"health", func(a *App) {
			h := &a.Services[0].Healthcheck
			h.Path, h.Timeout, h.Deadline, h.UnhealthyThreshold = "", 0, h.Interval, 0
		}, []string{
			f + `service "web": x-berth.healthcheck.deadline: must be longer than the interval (500ms), got 500ms`,
			f + `service "web": x-berth.healthcheck.path: must start with "/", got ""`,
			f + `service "web": x-berth.healthcheck.timeout: must be greater than 0, got 0s`,
			f + `service "web": x-berth.healthcheck.unhealthy_threshold: must be at least 1, got 0`,
		}},
		{"client limits", func(a *App) {
			a.Services[0].MaxBodyBytes = new(int64(-1))
			a.Services[0].BodyTimeout = new(Duration(-time.Second))
			a.Services[1].WriteTimeout = new(Duration(0))
		}, []string{
			f + `service "web": x-berth.body_timeout: must not be negative, got -1s; write 0 for no timeout`,
			f + `service "web": x-berth.max_body_size: must not be negative, got -1; write 0 (or "unlimited") for no limit`,
			f + `service "worker": x-berth.write_timeout: needs x-berth.hosts: the proxy times its writes to the clients of the service's hosts; remove it from a service that is not routed`,
		}},
		{"mounts", func(a *App) {
			a.Services[1].Volumes = []Mount{{Type: "bind", Source: "data", Target: "/data"}, {Type: "volume", Source: "x", Target: "rel"}}
		}, []string{
			f + `service "worker": volumes[0]: bind mount source must be an absolute path, got "data"`,
			f + `service "worker": volumes[1]: target must be an absolute path in the container, got "rel"`,
		}},
		{"volumes", func(a *App) {
			a.Volumes = append(a.Volumes, Volume{Key: "media", Name: "media", External: true, Driver: "local"}, Volume{})
			a.Services[0].Volumes = append(a.Services[0].Volumes, Mount{Type: "volume", Source: "nope", Target: "/nope"})
			a.Services[1].Stateful = true
			a.Services[1].Replicas = 1
			a.Services[1].Volumes = []Mount{{Type: "volume", Target: "/data"}}
		}, []string{
			f + "volumes: a volume name must not be empty",
			f + "volumes.media.driver: an external volume is used as it is: berth never creates it, so its driver would be ignored; remove driver, or remove external: true to have berth create the volume",
			f + `service "web": volumes[3]: no top-level volume named "nope": declare it under volumes:`,
			f + `service "worker": volumes[0]: anonymous volume at /data: it belongs to one container, and a stateful service's replacement container gets a new, empty one, so its data would be lost; name it (e.g. data:/data) and declare it under the top-level volumes:`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := validApp(t)
			tc.mutate(a)
			err := a.Validate()
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("errors.As(*Error) failed on %T", err)
			}
		})
	}
}

func TestApp_Service(t *testing.T) {
	a := validApp(t)
	s, ok := a.Service("worker")
	if !ok || s.Name != "worker" || s.Replicas != 2 {
		t.Fatalf("Service(worker) = %+v, %v", s, ok)
	}
	s.Replicas = 5
	if a.Services[1].Replicas != 5 {
		t.Error("Service does not point into the App")
	}
	if _, ok := a.Service("db"); ok {
		t.Error("Service(db) found a service that does not exist")
	}
}

// writeFiles writes name → content into a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad_DotEnvAndEnviron(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": "name: shop\nservices:\n  web:\n    image: shop:${TAG}\n    environment:\n      MODE: ${MODE}\n",
		".env":         "TAG=from-dotenv\nMODE=from-dotenv\n",
	})
	app, err := Load(context.Background(), LoadOptions{
		Files:   []string{filepath.Join(dir, "compose.yaml")},
		Environ: map[string]string{"MODE": "from-environ"},
	})
	if err != nil {
		t.Fatal(err)
	}
	web := app.Services[0]
	if web.Image != "shop:from-dotenv" || web.Environment["MODE"] != "from-environ" {
		t.Errorf("image %q, MODE %q; want the .env value for TAG and Environ winning for MODE", web.Image, web.Environment["MODE"])
	}
}

func TestLoad_EnvironIsNotMutatedAndProcessEnvIgnored(t *testing.T) {
	t.Setenv("TAG", "from-process")
	t.Setenv("COMPOSE_PROJECT_NAME", "other")
	dir := writeFiles(t, map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    image: shop:${TAG:-none}\n"})
	environ := map[string]string{"X": "1"}
	app, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}, Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	if app.Name != "shop" || app.Services[0].Image != "shop:none" {
		t.Errorf("name %q image %q: the process environment leaked in", app.Name, app.Services[0].Image)
	}
	if len(environ) != 1 {
		t.Errorf("Load changed the caller's Environ: %v", environ)
	}
}

func TestLoad_WorkingDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    image: shop\n    volumes: [\"./data:/data\"]\n"})
	other := t.TempDir()
	for _, d := range []string{dir, other} {
		if err := os.Mkdir(filepath.Join(d, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ wd, want string }{
		{"", filepath.Join(dir, "data")},
		{other, filepath.Join(other, "data")},
	} {
		app, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}, WorkingDir: tc.wd})
		if err != nil {
			t.Fatal(err)
		}
		if got := app.Services[0].Volumes[0]; got.Type != "bind" || got.Source != tc.want {
			t.Errorf("WorkingDir %q: mount %+v, want bind from %s", tc.wd, got, tc.want)
		}
	}
}

func TestLoad_FileErrors(t *testing.T) {
	_, err := Load(context.Background(), LoadOptions{})
	if err == nil || err.Error() != "no Compose file given" {
		t.Errorf("no files: %v", err)
	}
	_, err = Load(context.Background(), LoadOptions{Files: []string{"testdata/valid/minimal.yaml", "testdata/nope.yaml"}})
	if want := "testdata/nope.yaml: cannot read the Compose file: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("missing file: %v, want %s", err, want)
	}
}

// A Compose healthcheck's wait covers its start period and every probe
// Docker makes before it gives up; Docker's defaults fill what is unset.
func TestCheck_WaitCoversEveryProbe(t *testing.T) {
	t.Parallel()
	var none *Check
	for _, c := range []struct {
		check *Check
		want  time.Duration
	}{
		{none, 0},
		{&Check{}, 4*30*time.Second + 30*time.Second},
		{&Check{Interval: Duration(30 * time.Second), Timeout: Duration(10 * time.Second), Retries: 3, StartPeriod: Duration(time.Minute)}, time.Minute + 4*30*time.Second + 10*time.Second},
		{&Check{Interval: Duration(time.Second), Timeout: Duration(time.Second), Retries: 1}, 3 * time.Second},
	} {
		if got := c.check.Wait(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.check, got, c.want)
		}
	}
}
