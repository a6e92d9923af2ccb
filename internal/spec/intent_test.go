package spec

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadIntent reads a Compose file of the app "shop" with the given
// services section as Load does, but for the key table (which decides
// keys such as ports: on their own), and decides its routes.
func loadIntent(t *testing.T, services string) (*App, error) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte("name: shop\nservices:\n"+services), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := readFiles([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{WorkingDir: dir, ConfigFiles: []types.ConfigFile{{Filename: file, Content: files[0].content}}}
	project, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) { o.SetProjectName("shop", true) })
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{fileFor: attribution(files)}
	app := &App{Name: "shop", Files: []string{file}}
	for _, sc := range project.Services {
		app.Services = append(app.Services, convertService(c, sc, nil))
	}
	sort.Slice(app.Services, func(i, j int) bool { return app.Services[i].Name < app.Services[j].Name })
	parseEnvironments(c, app, project.Extensions[ExtensionKey], dir)
	app.Warnings = decideRoutes(c, app, project.Services)
	validateApp(c, app)
	return app, c.err()
}

// route is what a test expects of a service's routing.
type route struct {
	port     int
	hosts    []string
	paths    []string
	strip    bool
	redirect bool
}

func routeOf(s *Service) route {
	return route{port: s.Port, hosts: s.Hosts, paths: s.Paths, strip: s.StripPrefix, redirect: s.RedirectHTTPS}
}

func (r route) equal(o route) bool {
	return r.port == o.port && slices.Equal(r.hosts, o.hosts) && slices.Equal(r.paths, o.paths) && r.strip == o.strip && r.redirect == o.redirect
}

// The rules that route a service from ports: and expose: when x-berth
// does not, and what the deploy output says about each decision.
func TestLoad_RoutesByPortsAndExpose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		services string
		want     route
		notes    []string
	}{
		{"one published port", `
  web:
    image: shop:1
    ports: ["8080:80"]
`, route{port: 80, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 80 (published 8080:80) → routed at web.shop.localhost and on :8080; add x-berth.hosts for your domain"}},
		{"one exposed port", `
  api:
    image: shop:1
    expose: ["3000"]
`, route{port: 3000, hosts: []string{"api.shop.localhost"}}, []string{
			"api: HTTP on container port 3000 (from expose:) → routed at api.shop.localhost; add x-berth.hosts for your domain"}},
		{"published twice and exposed, one port", `
  web:
    image: shop:1
    ports: ["8080:80", "127.0.0.1:8081:80"]
    expose: [80]
`, route{port: 80, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 80 (published 8080:80, 127.0.0.1:8081:80) → routed at web.shop.localhost and on :8080, 127.0.0.1:8081; add x-berth.hosts for your domain"}},
		{"udp ports are not HTTP", `
  web:
    image: shop:1
    ports: ["53:53/udp", "8080:8080"]
`, route{port: 8080, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 8080 (published 8080:8080) → routed at web.shop.localhost and on :8080; add x-berth.hosts for your domain"}},
		{"app_protocol http wins", `
  web:
    image: shop:1
    ports:
      - { target: 80, published: "8080" }
      - { target: 9090, published: "9090", app_protocol: http }
`, route{port: 9090, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 9090 (app_protocol: http; published 9090:9090) → routed at web.shop.localhost and on :9090; add x-berth.hosts for your domain"}},
		{"another app_protocol is not HTTP", `
  web:
    image: shop:1
    ports:
      - { target: 50051, app_protocol: grpc }
      - { target: 7000 }
`, route{port: 7000, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 7000 (from ports:) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
		{"a usual HTTP port among several", `
  web:
    image: shop:1
    ports: ["8080:8080", "9090:9090"]
`, route{port: 8080, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 8080 (the usual HTTP port among 8080, 9090; published 8080:8080) → routed at web.shop.localhost and on :8080; add x-berth.hosts for your domain"}},
		{"https port left out", `
  web:
    image: shop:1
    ports: ["80:80", "443:443"]
`, route{port: 80, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 80 (published 80:80) → routed at web.shop.localhost and on :80; add x-berth.hosts for your domain"}},
		{"ambiguous", `
  web:
    image: shop:1
    expose: ["7000", "9090"]
`, route{}, []string{
			"web: not routed: it has the ports 7000, 9090 and berth cannot tell which one serves HTTP; set x-berth.port to the HTTP one (or mark it app_protocol: http in ports:) to route it at web.shop.localhost, and x-berth.hosts for your domain"}},
		{"two usual ports are ambiguous", `
  web:
    image: shop:1
    expose: ["8000-8080"]
`, route{}, nil},
		{"database", `
  db:
    image: postgres:16
    ports: ["5432:5432"]
`, route{}, []string{
			"db: not routed: port 5432 is PostgreSQL, not HTTP; the app's services reach it by its name, db (x-berth.port and x-berth.hosts route it anyway)"}},
		{"cache and its metrics", `
  cache:
    image: redis:7
    expose: ["6379", "11211"]
`, route{}, []string{
			"cache: not routed: port 6379 is Redis, port 11211 is memcached, not HTTP; the app's services reach it by its name, cache (x-berth.port and x-berth.hosts route it anyway)"}},
		{"PHP-FPM's 9000 is not HTTP", `
  php:
    image: php:8.3-fpm
    expose: ["9000"]
`, route{}, []string{
			"php: not routed: port 9000 is PHP-FPM (FastCGI), not HTTP; the app's services reach it by its name, php (x-berth.port and x-berth.hosts route it anyway)"}},
		{"another image's 9000 is", `
  s3:
    image: minio/minio
    expose: ["9000"]
`, route{port: 9000, hosts: []string{"s3.shop.localhost"}}, nil},
		{"a database beside an HTTP port", `
  search:
    image: shop:1
    ports: ["5432:5432", "3000:3000"]
`, route{port: 3000, hosts: []string{"search.shop.localhost"}}, nil},
		{"no ports: a worker", `
  worker:
    image: shop:1
`, route{}, nil},
		{"stateful is never routed", `
  db:
    image: shop:1
    ports: ["8080:8080"]
    x-berth: { stateful: true }
`, route{}, nil},
		{"network_mode host is not routed", `
  web:
    image: shop:1
    network_mode: host
    expose: ["8080"]
`, route{}, []string{"web: not routed: with network_mode: host it is not on the app's network, where berth's proxy reaches containers"}},
		{"x-berth.hosts: [] routes nothing", `
  metrics:
    image: shop:1
    expose: ["8080"]
    x-berth: { hosts: [] }
`, route{}, []string{"metrics: not routed: x-berth.hosts is empty"}},
		{"x-berth wins", `
  web:
    image: shop:1
    ports: ["8080:80"]
    x-berth: { port: 8080, hosts: [shop.example.com] }
`, route{port: 8080, hosts: []string{"shop.example.com"}}, nil},
		{"x-berth.port alone: the default host", `
  web:
    image: shop:1
    ports: ["8080:80", "9090:9090"]
    x-berth: { port: 9090 }
`, route{port: 9090, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 9090 (x-berth.port) → routed at web.shop.localhost and on :9090; add x-berth.hosts for your domain"}},
		{"x-berth.hosts alone: the port from ports", `
  web:
    image: shop:1
    ports: ["8080:80"]
    x-berth: { hosts: [shop.example.com] }
`, route{port: 80, hosts: []string{"shop.example.com"}}, []string{
			"web: HTTP on container port 80 (published 8080:80) → routed at shop.example.com and on :8080"}},
		{"service names become host labels", `
  Web_UI:
    image: shop:1
    expose: ["80"]
`, route{port: 80, hosts: []string{"web-ui.shop.localhost"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app, err := loadIntent(t, tc.services)
			if err != nil {
				t.Fatal(err)
			}
			s := &app.Services[0]
			if got := routeOf(s); !got.equal(tc.want) {
				t.Errorf("route %+v, want %+v", got, tc.want)
			}
			if tc.notes != nil && !slices.Equal(app.Notes, tc.notes) {
				t.Errorf("notes:\n%q\nwant:\n%q", app.Notes, tc.notes)
			}
			if err := app.Validate(); err != nil {
				t.Errorf("the loaded app does not validate: %v", err)
			}
		})
	}
}

// Two services whose default host is the same: the second is not routed
// and the note says why.
func TestLoad_DefaultHostTakenIsNotRouted(t *testing.T) {
	t.Parallel()
	app, err := loadIntent(t, `
  web-ui:
    image: shop:1
    expose: ["80"]
  web_ui:
    image: shop:1
    expose: ["80"]
`)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := app.Service("web-ui")
	b, _ := app.Service("web_ui")
	if !slices.Equal(a.Hosts, []string{"web-ui.shop.localhost"}) || b.Hosts != nil {
		t.Fatalf("hosts %q and %q", a.Hosts, b.Hosts)
	}
	if want := "web_ui: not routed: its default host web-ui.shop.localhost is routed to web-ui; set x-berth.hosts"; !slices.Contains(app.Notes, want) {
		t.Errorf("notes %q lack %q", app.Notes, want)
	}
}

// Outside the production environment the default host names the
// environment; an environment's own hosts replace it.
func TestApp_ForEnvDefaultHosts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(`name: shop
services:
  web:
    image: shop:1
    expose: ["80"]
  api:
    image: shop:1
    expose: ["3000"]
x-berth:
  environments:
    demo: { hosts: { api: [demo.example.com] } }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := Load(context.Background(), LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env      string
		web, api []string
	}{
		{DefaultEnv, []string{"web.shop.localhost"}, nil},
		{"staging", []string{"web.staging.shop.localhost"}, nil},
		{"demo", []string{"web.demo.shop.localhost"}, []string{"demo.example.com"}},
	} {
		e := app.ForEnv(tc.env)
		web, _ := e.Service("web")
		api, _ := e.Service("api")
		if !slices.Equal(web.Hosts, tc.web) || !slices.Equal(api.Hosts, tc.api) || api.Port != 3000 {
			t.Errorf("%s: web %q, api %q port %d", tc.env, web.Hosts, api.Hosts, api.Port)
		}
		if !strings.Contains(strings.Join(e.Notes, "\n"), "→ routed at "+tc.web[0]+";") {
			t.Errorf("%s: notes %q do not name %s", tc.env, e.Notes, tc.web[0])
		}
	}
	if web, _ := app.Service("web"); !slices.Equal(web.Hosts, []string{"web.shop.localhost"}) {
		t.Errorf("ForEnv changed the loaded app: %q", web.Hosts)
	}
}

// The decision is not stored: a service that is routed by intent has the
// JSON form of one routed by x-berth, and one that is not routed keeps
// its form.
func TestLoad_IntentIsNotStored(t *testing.T) {
	t.Parallel()
	app, err := loadIntent(t, `
  db:
    image: postgres:16
    ports: ["5432:5432"]
`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(app.Services[0])
	if err != nil {
		t.Fatal(err)
	}
	if app.Services[0].Intent == nil || strings.Contains(string(b), "ntent") || strings.Contains(string(b), `"hosts"`) || strings.Contains(string(b), `"port"`) {
		t.Errorf("stored form %s (intent %+v)", b, app.Services[0].Intent)
	}
}
