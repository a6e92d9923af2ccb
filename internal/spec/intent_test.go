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
			"web: HTTP on container port 80 (published 8080:80) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
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
			"web: HTTP on container port 80 (published 8080:80, 127.0.0.1:8081:80) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
		{"udp ports are not HTTP", `
  web:
    image: shop:1
    ports: ["53:53/udp", "8080:8080"]
`, route{port: 8080, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 8080 (published 8080:8080) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
		{"app_protocol http wins", `
  web:
    image: shop:1
    ports:
      - { target: 80, published: "8080" }
      - { target: 9090, published: "9090", app_protocol: http }
`, route{port: 9090, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 9090 (app_protocol: http; published 9090:9090) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
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
			"web: HTTP on container port 8080 (the usual HTTP port among 8080, 9090; published 8080:8080) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
		{"https port left out", `
  web:
    image: shop:1
    ports: ["80:80", "443:443"]
`, route{port: 80, hosts: []string{"web.shop.localhost"}}, []string{
			"web: HTTP on container port 80 (published 80:80) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
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
			"web: HTTP on container port 9090 (x-berth.port) → routed at web.shop.localhost; add x-berth.hosts for your domain"}},
		{"x-berth.hosts alone: the port from ports", `
  web:
    image: shop:1
    ports: ["8080:80"]
    x-berth: { hosts: [shop.example.com] }
`, route{port: 80, hosts: []string{"shop.example.com"}}, []string{
			"web: HTTP on container port 80 (published 8080:80) → routed at shop.example.com"}},
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

// Routes a service already has for nginx-proxy (VIRTUAL_HOST...) or
// Traefik (labels) are imported, with a note; what cannot be imported is
// an error (nginx-proxy) or a warning (Traefik) naming the setting.
func TestLoad_ImportsNginxProxyAndTraefikRoutes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		services string
		want     route
		notes    []string // nil: not checked
		warnings []string // parts of the warnings, in order
		err      string   // a part of the error
	}{
		{"VIRTUAL_HOST and VIRTUAL_PORT", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: "shop.example.com, www.shop.example.com", VIRTUAL_PORT: "3000" }
`, route{port: 3000, hosts: []string{"shop.example.com", "www.shop.example.com"}}, []string{
			"web: routed at shop.example.com, www.shop.example.com on port 3000, imported from VIRTUAL_HOST/VIRTUAL_PORT"}, nil, ""},
		{"VIRTUAL_HOST takes the one exposed port", `
  web:
    image: shop:1
    expose: ["8080"]
    environment: [VIRTUAL_HOST=shop.example.com]
`, route{port: 8080, hosts: []string{"shop.example.com"}}, []string{
			"web: routed at shop.example.com on port 8080 (the one port it exposes), imported from VIRTUAL_HOST"}, nil, ""},
		{"VIRTUAL_HOST defaults to port 80", `
  web:
    image: shop:1
    environment: [VIRTUAL_HOST=shop.example.com]
`, route{port: 80, hosts: []string{"shop.example.com"}}, []string{
			"web: routed at shop.example.com on port 80 (nginx-proxy's default without VIRTUAL_PORT), imported from VIRTUAL_HOST"}, nil, ""},
		{"VIRTUAL_PATH and VIRTUAL_DEST", `
  api:
    image: shop:1
    environment: { VIRTUAL_HOST: shop.example.com, VIRTUAL_PORT: "8080", VIRTUAL_PATH: /api/, VIRTUAL_DEST: / }
`, route{port: 8080, hosts: []string{"shop.example.com"}, paths: []string{"/api/"}, strip: true}, []string{
			"api: routed at shop.example.com/api on port 8080, imported from VIRTUAL_HOST/VIRTUAL_PORT/VIRTUAL_PATH"}, nil, ""},
		{"LETSENCRYPT_HOST", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: shop.example.com, LETSENCRYPT_HOST: "shop.example.com,old.example.com", LETSENCRYPT_EMAIL: ops@example.com }
`, route{port: 80, hosts: []string{"shop.example.com"}}, []string{
			"web: routed at shop.example.com on port 80 (nginx-proxy's default without VIRTUAL_PORT), imported from VIRTUAL_HOST",
			"web: LETSENCRYPT_HOST: berth gets certificates from its own ACME client for every host it routes (berth server --https-addr, --acme on by default), so it needs no list; old.example.com is not in VIRTUAL_HOST, so it is not routed and gets none",
			"web: LETSENCRYPT_EMAIL: the ACME account's contact is the server's setting: berth server --acme-email"}, nil, ""},
		{"VIRTUAL_HOST wildcard is refused", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: "*.example.com" }
`, route{}, nil, nil, `compose.yaml: service "web": environment.VIRTUAL_HOST: "*.example.com" is a wildcard; berth routes exact host names: list each host name in VIRTUAL_HOST (or x-berth.hosts)`},
		{"VIRTUAL_HOST regexp is refused", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: "~^shop\\..*$" }
`, route{}, nil, nil, `environment.VIRTUAL_HOST: "~^shop\\..*$" is a regular expression`},
		{"VIRTUAL_PROTO https is refused", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: shop.example.com, VIRTUAL_PROTO: https, VIRTUAL_PORT: "443" }
`, route{}, nil, nil, `environment.VIRTUAL_PROTO: berth sends plain HTTP to the container (it terminates TLS itself), got "https"`},
		{"VIRTUAL_PORT must be a port", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: shop.example.com, VIRTUAL_PORT: http }
`, route{}, nil, nil, `environment.VIRTUAL_PORT: must be the container port the app listens on (1 to 65535), got "http"`},
		{"x-berth wins over VIRTUAL_HOST", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: old.example.com }
    x-berth: { port: 8080, hosts: [shop.example.com] }
`, route{port: 8080, hosts: []string{"shop.example.com"}}, []string{
			"web: x-berth routes it, so its VIRTUAL_HOST settings were not imported (x-berth wins)"}, nil, ""},
		{"Traefik router, port, stripprefix, tls", `
  api:
    image: shop:1
    labels:
      traefik.enable: "true"
      traefik.http.routers.api.rule: Host(` + "`shop.example.com`" + `) && PathPrefix(` + "`/api`" + `)
      traefik.http.routers.api.entrypoints: websecure
      traefik.http.routers.api.tls.certresolver: le
      traefik.http.routers.api.middlewares: api-strip@docker
      traefik.http.middlewares.api-strip.stripPrefix.prefixes: /api
      traefik.http.services.api.loadBalancer.server.port: "3000"
`, route{port: 3000, hosts: []string{"shop.example.com"}, paths: []string{"/api"}, strip: true}, []string{
			"api: routed at shop.example.com/api on port 3000, imported from Traefik labels (router api) and traefik.http.services.api.loadBalancer.server.port",
			"api: traefik.http.routers.api.entrypoints, traefik.http.routers.api.tls.certresolver: not needed: berth serves every route on its HTTP listener and, with berth server --https-addr, on HTTPS with a certificate from --cert-dir or its own ACME client"}, nil, ""},
		{"Traefik v2 hosts list, redirect, one exposed port", `
  web:
    image: shop:1
    expose: ["8000"]
    labels:
      - traefik.http.routers.web.rule=Host(` + "`a.example.com`, `b.example.com`" + `)
      - traefik.http.routers.web.middlewares=https
      - traefik.http.middlewares.https.redirectscheme.scheme=https
`, route{port: 8000, hosts: []string{"a.example.com", "b.example.com"}, redirect: true}, []string{
			"web: routed at a.example.com, b.example.com on port 8000 (the one port it exposes), imported from Traefik labels (router web)"}, nil, ""},
		{"Traefik labels on deploy (Swarm)", `
  web:
    image: shop:1
    deploy:
      labels:
        traefik.http.routers.web.rule: Host(` + "`shop.example.com`" + `)
        traefik.http.services.web.loadbalancer.server.port: "8080"
`, route{port: 8080, hosts: []string{"shop.example.com"}}, nil, nil, ""},
		{"Traefik port without a rule: the default host", `
  web:
    image: shop:1
    labels: { traefik.http.services.web.loadbalancer.server.port: "8080" }
`, route{port: 8080, hosts: []string{"web.shop.localhost"}}, []string{
			"web: routed at web.shop.localhost on port 8080, imported from Traefik labels and traefik.http.services.web.loadbalancer.server.port"}, nil, ""},
		{"Traefik rule not imported", `
  web:
    image: shop:1
    ports: ["8080:80"]
    labels: { traefik.http.routers.web.rule: "HostRegexp(` + "`{sub:[a-z]+}.example.com`" + `)" }
`, route{}, []string{}, []string{
			"compose.yaml: services.web.labels.traefik.http.routers.web.rule: the rule \"HostRegexp(`{sub:[a-z]+}.example.com`)\" was not imported: the matcher HostRegexp is not supported (berth imports Host and PathPrefix); route the service with x-berth.hosts (and x-berth.paths)"}, ""},
		{"Traefik middleware not imported", `
  web:
    image: shop:1
    expose: ["80"]
    labels:
      traefik.http.routers.web.rule: Host(` + "`shop.example.com`" + `)
      traefik.http.routers.web.middlewares: auth,limits@file
      traefik.http.middlewares.auth.basicauth.users: "u:x"
`, route{port: 80, hosts: []string{"shop.example.com"}}, []string{
			"web: routed at shop.example.com on port 80 (the one port it exposes), imported from Traefik labels (router web)",
			"web: traefik.http.middlewares.auth.basicauth: the middleware \"auth\" was not imported: berth has no setting for Traefik's basicauth"}, []string{
			"services.web.labels.traefik.http.middlewares.limits@file: the middleware \"limits@file\" is defined outside the labels (@file) and was not imported"}, ""},
		{"traefik.enable=false", `
  web:
    image: shop:1
    ports: ["8080:80"]
    labels: { traefik.enable: "false" }
`, route{}, []string{"web: not routed: traefik.enable=false"}, nil, ""},
		{"Traefik wins over VIRTUAL_HOST", `
  web:
    image: shop:1
    environment: { VIRTUAL_HOST: old.example.com }
    labels:
      traefik.http.routers.web.rule: Host(` + "`shop.example.com`" + `)
      traefik.http.services.web.loadbalancer.server.port: "80"
`, route{port: 80, hosts: []string{"shop.example.com"}}, []string{
			"web: routed at shop.example.com on port 80, imported from Traefik labels (router web) and traefik.http.services.web.loadbalancer.server.port",
			"web: it has both Traefik labels and VIRTUAL_HOST: the Traefik labels were imported, VIRTUAL_HOST was not"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app, err := loadIntent(t, tc.services)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := &app.Services[0]
			if got := routeOf(s); !got.equal(tc.want) {
				t.Errorf("route %+v, want %+v", got, tc.want)
			}
			if tc.notes != nil && !slices.Equal(app.Notes, tc.notes) && !(len(tc.notes) == 0 && len(app.Notes) == 0) {
				t.Errorf("notes:\n%q\nwant:\n%q", app.Notes, tc.notes)
			}
			var got []string
			for _, w := range app.Warnings {
				if strings.Contains(w, "traefik") {
					got = append(got, w)
				}
			}
			if len(got) != len(tc.warnings) {
				t.Errorf("warnings %q, want %q", got, tc.warnings)
			}
			for i := range min(len(got), len(tc.warnings)) {
				if !strings.Contains(got[i], tc.warnings[i]) {
					t.Errorf("warning %q lacks %q", got[i], tc.warnings[i])
				}
			}
			// The settings stay the container's.
			if _, ok := s.Environment["VIRTUAL_HOST"]; strings.Contains(tc.services, "VIRTUAL_HOST") && !ok {
				t.Errorf("VIRTUAL_HOST left the environment: %v", s.Environment)
			}
			if strings.Contains(tc.services, "\n    labels:") && len(s.Labels) == 0 {
				t.Errorf("the labels left the service")
			}
			if err := app.Validate(); err != nil {
				t.Errorf("the loaded app does not validate: %v", err)
			}
		})
	}
}

// Two services that share a VIRTUAL_HOST (nginx-proxy balances them) are
// refused with the variable, not with an x-berth key the file lacks.
func TestLoad_SharedImportedHostIsRefused(t *testing.T) {
	t.Parallel()
	_, err := loadIntent(t, `
  blue:
    image: shop:1
    environment: { VIRTUAL_HOST: shop.example.com }
  green:
    image: shop:1
    expose: ["80"]
    labels: { traefik.http.routers.g.rule: "Host(`+"`shop.example.com`"+`)" }
`)
	want := `compose.yaml: service "green": labels.traefik.http.routers.g.rule: "shop.example.com" is also routed to service "blue"; nginx-proxy and Traefik balance the services that share a host`
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "x-berth") {
		t.Fatalf("error %v, want %q", err, want)
	}
}
