package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// threeServices is a routed web service, a worker and a stateful
// service with a volume and a Compose healthcheck.
func threeServices(t *testing.T, name, host, version, dbVersion string) *spec.App {
	t.Helper()
	img := image(t).Ref
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %[1]s
services:
  web:
    image: %[2]s
    environment: { VERSION: %[3]s }
    depends_on: { db: { condition: service_healthy } }
    deploy: { replicas: 2 }
    x-berth: { port: 8080, hosts: [%[4]s], healthcheck: { path: /up, interval: 200ms } }
  worker:
    image: %[2]s
    environment: { VERSION: %[3]s }
    depends_on: [db]
  db:
    image: %[2]s
    environment: { VERSION: %[5]s }
    volumes: ["data:/data"]
    healthcheck: { test: ["CMD", "/testapp", "print", "ok"], interval: 200ms, timeout: 2s, retries: 3 }
    x-berth: { stateful: true }
volumes:
  data: {}
`, name, img, version, host, dbVersion))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func dbContainers(t *testing.T, eng interface {
	ListContainers(context.Context, map[string]string) ([]engine.Container, error)
}, app string) []engine.Container {
	t.Helper()
	cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: app, engine.LabelService: "db"})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestApp_ThreeServicesWithAStatefulOne(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data")
	viaDB := func(path string) (int, string) {
		return get(t, s.addrs.HTTP, host, "/fetch?url="+url.QueryEscape("http://db:8080"+path))
	}

	dep, err := s.deploy(t, threeServices(t, name, host, "v1", "db1"))
	if err != nil {
		t.Fatal(err)
	}
	waited := false
	for _, st := range dep.Timeline {
		waited = waited || strings.Contains(st.Message, "web waits for db (healthy)")
	}
	if !waited {
		t.Errorf("web did not wait for db's healthcheck: %+v", dep.Timeline)
	}
	dbs := dbContainers(t, eng, name)
	if len(dbs) != 1 {
		t.Fatalf("db containers: %d", len(dbs))
	}
	if code, body := viaDB("/write?path=/data/rows&data=42"); code != 200 {
		t.Fatalf("write through web to db: %d %s", code, body)
	}

	// Redeploy under load: web and worker change, db is kept as it is.
	l := startLoad(s.addrs.HTTP, host, 32)
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.count("v1") > 200 })
	if _, err := s.deploy(t, threeServices(t, name, host, "v2", "db1")); err != nil {
		l.stop()
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "v2 serving", func() bool { return l.count("v2") > 200 })
	l.stop()
	if l.failed.Load() != 0 {
		t.Fatalf("requests failed: %s", l.summary())
	}
	if now := dbContainers(t, eng, name); len(now) != 1 || now[0].ID != dbs[0].ID || !now[0].Running() {
		t.Fatalf("the stateful db was duplicated or replaced: %+v", now)
	}
	if _, body := viaDB("/read?path=/data/rows"); body != "42" {
		t.Fatalf("v2 reads %q from db", body)
	}
	waitOldGone(t, eng, name, "2") // v1's worker stops in the background
	workers, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name, engine.LabelService: "worker"})
	if len(workers) != 1 || workers[0].Labels[engine.LabelRelease] != "2" {
		t.Fatalf("workers: %+v", workers)
	}

	// Changing db's definition needs confirmation.
	_, err = s.deploy(t, threeServices(t, name, host, "v3", "db2"))
	if err == nil || !strings.Contains(err.Error(), "--replace-stateful") {
		t.Fatalf("changed stateful service without confirmation: %v", err)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "v2" {
		t.Fatalf("after the refusal: %q", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := s.client.Deploy(ctx, threeServices(t, name, host, "v3", "db2"), spec.DefaultEnv, dto.DeployOptions{ReplaceStateful: true}, nil); err != nil {
		t.Fatalf("deploy --replace-stateful: %v", err)
	}
	now := dbContainers(t, eng, name)
	if len(now) != 1 || now[0].ID == dbs[0].ID {
		t.Fatalf("db not replaced: %+v", now)
	}
	if _, body := viaDB("/read?path=/data/rows"); body != "42" {
		t.Fatalf("data lost when db was replaced: %q", body)
	}
	if _, body := viaDB("/"); body != "db2" {
		t.Fatalf("db runs %q after the replacement", body)
	}
}
