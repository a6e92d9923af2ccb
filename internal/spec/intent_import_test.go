package spec

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

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
			"compose.yaml: service \"web\": labels.traefik.http.routers.web.rule: the rule \"HostRegexp(`{sub:[a-z]+}.example.com`)\" was not imported: the matcher HostRegexp is not supported (berth imports Host and PathPrefix); route the service with x-berth.hosts (and x-berth.paths)"}, ""},
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
			"service \"web\": labels.traefik.http.middlewares.limits@file: the middleware \"limits@file\" is defined outside the labels (@file) and was not imported"}, ""},
		{"Traefik health check", `
  web:
    image: shop:1
    labels:
      traefik.http.routers.web.rule: Host(` + "`shop.example.com`" + `)
      traefik.http.services.web.loadbalancer.server.port: "8080"
      traefik.http.services.web.loadbalancer.healthcheck.path: /health
      traefik.http.services.web.loadbalancer.healthcheck.interval: 5s
      traefik.http.services.web.loadbalancer.healthcheck.hostname: internal.example.com
    x-berth: { healthcheck: { interval: 2s } }
`, route{port: 8080, hosts: []string{"shop.example.com"}}, []string{
			"web: routed at shop.example.com on port 8080, imported from Traefik labels (router web) and traefik.http.services.web.loadbalancer.server.port",
			"web: traefik.http.services.web.loadbalancer.healthcheck.hostname=internal.example.com was not imported: berth's health check takes a path, an interval and a timeout (x-berth.healthcheck)",
			"web: health check path /health imported from the Traefik load balancer's healthcheck labels"}, nil, ""},
		{"Traefik health check interval beyond the deadline", `
  web:
    image: shop:1
    labels:
      traefik.http.routers.web.rule: Host(` + "`shop.example.com`" + `)
      traefik.http.services.web.loadbalancer.server.port: "8080"
      traefik.http.services.web.loadbalancer.healthcheck.interval: "60"
      traefik.http.services.web.loadbalancer.healthcheck.timeout: 3s
`, route{port: 8080, hosts: []string{"shop.example.com"}}, []string{
			"web: routed at shop.example.com on port 8080, imported from Traefik labels (router web) and traefik.http.services.web.loadbalancer.server.port",
			"web: health check timeout 3s imported from the Traefik load balancer's healthcheck labels",
			"web: the Traefik health check interval 1m0s was not imported: berth's must be at least 10ms and shorter than x-berth.healthcheck.deadline (1m0s); it checks every 1s"}, nil, ""},
		{"Traefik https scheme is not routed", `
  web:
    image: shop:1
    labels:
      traefik.http.routers.web.rule: Host(` + "`shop.example.com`" + `)
      traefik.http.services.web.loadbalancer.server.port: "8443"
      traefik.http.services.web.loadbalancer.server.scheme: https
`, route{}, []string{}, []string{
			"service \"web\": labels.traefik.http.services.web.loadbalancer.server.scheme: \"https\" was not imported, nor the route: berth sends plain HTTP to the container"}, ""},
		{"Traefik https scheme without a rule is not routed", `
  web:
    image: shop:1
    expose: ["8443", "8080"]
    labels: { traefik.http.services.web.loadbalancer.server.scheme: https }
`, route{}, []string{}, []string{
			"service \"web\": labels.traefik.http.services.web.loadbalancer.server.scheme: \"https\" was not imported, nor the route"}, ""},
		{"Traefik TCP routers only", `
  mqtt:
    image: shop:1
    expose: ["8080"]
    labels: { traefik.tcp.routers.mqtt.rule: "HostSNI(` + "`*`" + `)" }
`, route{}, []string{
			"mqtt: traefik.tcp.routers.mqtt.rule: Traefik TCP/UDP routers are not imported; berth forwards TCP and UDP through ports:"}, nil, ""},
		{"Traefik v1 frontend rule", `
  api:
    image: shop:1
    labels:
      - traefik.enable=true
      - "traefik.frontend.rule=Host:shop.example.com,www.shop.example.com;PathPrefixStrip:/api"
      - traefik.port=3000
`, route{port: 3000, hosts: []string{"shop.example.com", "www.shop.example.com"}, paths: []string{"/api"}, strip: true}, []string{
			"api: routed at shop.example.com/api, www.shop.example.com/api on port 3000, imported from Traefik v1 labels (traefik.frontend.rule) and traefik.port"}, nil, ""},
		{"Traefik v1 rule not imported", `
  api:
    image: shop:1
    expose: ["80"]
    labels: { traefik.frontend.rule: "HostRegexp:{sub:[a-z]+}.example.com" }
`, route{}, []string{}, []string{
			"compose.yaml: service \"api\": labels.traefik.frontend.rule: the rule \"HostRegexp:{sub:[a-z]+}.example.com\" was not imported: the matcher HostRegexp is not supported (berth imports Host, PathPrefix and PathPrefixStrip)"}, ""},
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
			if tc.name == "Traefik health check" {
				if h := s.Healthcheck; h.Path != "/health" || h.Interval.D() != 2*time.Second {
					t.Errorf("health check %+v, want the path /health imported and x-berth's interval 2s kept", h)
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

// Whatever nginx-proxy variables and Traefik v1 labels say, what is
// imported passes berth's host and path checks, or is not imported.
func FuzzImportProxySettings(f *testing.F) {
	f.Add("shop.example.com, www.example.com", "3000", "/api", "/", "Host:a.example.com;PathPrefixStrip:/x", "80")
	f.Add("*.example.com", "x", "~^/a", "/b", "Host:", "")
	f.Fuzz(func(t *testing.T, vhost, vport, vpath, vdest, rule, port string) {
		env := types.NewMappingWithEquals([]string{"VIRTUAL_HOST=" + vhost, "VIRTUAL_PORT=" + vport, "VIRTUAL_PATH=" + vpath, "VIRTUAL_DEST=" + vdest})
		check := func(r *importedRoute) {
			if r == nil || r.failed {
				return
			}
			if len(r.hosts) == 0 {
				t.Fatalf("imported no host and did not fail: %+v", r)
			}
			for _, h := range r.hosts {
				if msg := checkHost(h); msg != "" {
					t.Fatalf("host %q: %s", h, msg)
				}
			}
			for _, p := range r.paths {
				if msg := checkPathPrefix(p); msg != "" {
					t.Fatalf("path %q: %s", p, msg)
				}
			}
			if r.port < 0 || r.port > 65535 {
				t.Fatalf("port %d", r.port)
			}
		}
		c := &collector{}
		var sc types.ServiceConfig
		sc.Environment = env
		nr := importNginxProxy(c, "web", sc)
		if nr != nil && len(c.errs) > 0 && !nr.failed {
			t.Fatalf("errors %v but the route was not marked failed", c.errs)
		}
		check(nr)
		check(importTraefikV1(map[string]string{"traefik.frontend.rule": rule, "traefik.port": port}, func(string, string) {}))
	})
}

// Through Load, with the key table: expose: and Traefik's labels (in
// labels: and, as on Swarm, deploy.labels) route a service without a
// warning of their own; deploy.labels other than Traefik's are refused,
// and a warning about a Traefik label names the key that sets it.
func TestLoad_RoutingIntentPassesTheKeyTable(t *testing.T) {
	t.Parallel()
	file := writeCompose(t, `name: shop
services:
  web:
    image: shop:1
    expose: ["8080"]
  api:
    image: shop:1
    deploy:
      labels:
        traefik.http.routers.api.rule: Host(`+"`api.example.com`"+`)
        traefik.http.services.api.loadbalancer.server.port: "3000"
  admin:
    image: shop:1
    expose: ["8000"]
    deploy:
      labels:
        traefik.http.routers.admin.rule: HostRegexp(`+"`{sub:[a-z]+}.example.com`"+`)
`)
	app, err := Load(context.Background(), LoadOptions{Files: []string{file}, Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]route{}
	for i := range app.Services {
		got[app.Services[i].Name] = routeOf(&app.Services[i])
	}
	for name, want := range map[string]route{
		"web":   {port: 8080, hosts: []string{"web.shop.localhost"}},
		"api":   {port: 3000, hosts: []string{"api.example.com"}},
		"admin": {},
	} {
		if !got[name].equal(want) {
			t.Errorf("%s: route %+v, want %+v", name, got[name], want)
		}
	}
	if want := []string{"compose.yaml: service \"admin\": deploy.labels.traefik.http.routers.admin.rule: the rule \"HostRegexp(`{sub:[a-z]+}.example.com`)\" was not imported: the matcher HostRegexp is not supported (berth imports Host and PathPrefix); route the service with x-berth.hosts (and x-berth.paths)"}; len(app.Warnings) != 1 || !strings.HasSuffix(app.Warnings[0], want[0]) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(app.Warnings, "\n"), strings.Join(want, "\n"))
	}

	file = writeCompose(t, `name: shop
services:
  web:
    image: shop:1
    deploy:
      labels:
        traefik.http.routers.web.rule: Host(`+"`shop.example.com`"+`)
        com.example.team: web
        com.example.tier: front
`)
	_, err = Load(context.Background(), LoadOptions{Files: []string{file}, Environ: map[string]string{}})
	want := `service "web": deploy.labels: berth cannot apply "com.example.team", "com.example.tier" yet: they would be labels of the Swarm service (berth reads only Traefik's traefik.* labels here, as routes); move them to labels: (the containers' labels) or remove them`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("non-Traefik deploy.labels: %v, want %q", err, want)
	}
}
