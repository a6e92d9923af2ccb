package spec

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// loadDir writes compose (and files) into a temporary directory and
// loads it with environ.
func loadDir(t *testing.T, compose string, files map[string]string, environ map[string]string) (*App, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(p, []byte(compose), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(context.Background(), LoadOptions{Files: []string{p}, Environ: environ})
}

func TestBuild_AppliesBuildKitKeys(t *testing.T) {
	app, err := loadDir(t, `name: shop
services:
  web:
    build:
      context: .
      dockerfile_inline: |
        FROM scratch
      labels: { team: shop }
      network: host
      extra_hosts: [ "db.internal=10.0.0.5" ]
      no_cache: true
      pull: true
      secrets:
        - npmrc
        - source: token
          target: api_token
secrets:
  npmrc: { file: ./npmrc }
  token: { environment: API_TOKEN }
`, map[string]string{"npmrc": "registry=x\n"}, map[string]string{"API_TOKEN": "t0k3n"})
	if err != nil {
		t.Fatal(err)
	}
	b := app.Services[0].Build
	want := Build{
		Context: b.Context, DockerfileInline: "FROM scratch\n", Labels: map[string]string{"team": "shop"},
		Network: "host", ExtraHosts: []string{"db.internal=10.0.0.5"}, NoCache: true, Pull: true,
		Secrets: []BuildSecret{{ID: "npmrc", From: "file " + filepath.Join(b.Context, "npmrc"), Value: []byte("registry=x\n")},
			{ID: "api_token", From: "environment API_TOKEN", Value: []byte("t0k3n")}},
	}
	if !reflect.DeepEqual(*b, want) {
		t.Fatalf("build:\n got %+v\nwant %+v", *b, want)
	}
	j, _ := json.Marshal(b)
	if strings.Contains(string(j), "t0k3n") || strings.Contains(string(j), "registry=x") {
		t.Errorf("a secret's value is in the stored form: %s", j)
	}
}

// A service whose build: sets nothing new keeps its stored form (a
// stateful service's definition hash depends on it).
func TestBuild_StoredFormUnchanged(t *testing.T) {
	b, _ := json.Marshal(Build{Context: "/src", Dockerfile: "Dockerfile", Target: "prod"})
	if string(b) != `{"context":"/src","dockerfile":"Dockerfile","target":"prod"}` {
		t.Errorf("stored form %s", b)
	}
}

func TestBuild_Refusals(t *testing.T) {
	_, err := loadDir(t, `name: shop
services:
  web:
    build:
      context: .
      network: backend
      cache_from: [ "type=registry,ref=x" ]
      ssh: [ default ]
      platforms: [ linux/arm64 ]
      secrets: [ ext, unset ]
secrets:
  ext: { external: true }
  unset: { environment: NOT_SET }
`, map[string]string{"Dockerfile": "FROM scratch\n"}, nil)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`service "web": build.network: "backend": BuildKit runs build steps on the default network`,
		`service "web": build.cache_from: berth keeps a build cache per app`,
		`service "web": build.ssh: berth builds on the server, which has no SSH agent`,
		`service "web": build.platforms: berth builds for the server's own platform`,
		`service "web": build.secrets.ext: an external secret is one of berth's own`,
		`service "web": build.secrets.unset: environment variable NOT_SET is not set`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// A build secret's uid, gid and mode have no effect (the Dockerfile's
// RUN --mount sets them): a warning, not a refusal.
func TestBuild_SecretOwnerWarns(t *testing.T) {
	app, err := loadDir(t, `name: shop
services:
  web:
    build:
      context: .
      secrets:
        - source: npmrc
          mode: 0400
secrets:
  npmrc: { environment: NPMRC }
`, map[string]string{"Dockerfile": "FROM scratch\n"}, map[string]string{"NPMRC": "registry=x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := app.Services[0].Build.Secrets; len(got) != 1 || got[0].ID != "npmrc" || string(got[0].Value) != "registry=x" {
		t.Errorf("secrets %+v", got)
	}
	if w := strings.Join(app.Warnings, "\n"); !strings.Contains(w, `service "web": build.secrets[0].mode: has no effect: a build secret's owner and mode are set where the Dockerfile mounts it`) {
		t.Errorf("warnings:\n%s", w)
	}
}
