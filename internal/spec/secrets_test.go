package spec

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadSecrets(t *testing.T, compose string, files map[string]string, environ map[string]string) (*App, error) {
	t.Helper()
	all := map[string]string{"compose.yaml": compose}
	for k, v := range files {
		all[k] = v
	}
	dir := writeFiles(t, all)
	return Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}, Environ: environ})
}

// Secrets from a file, the environment and berth's store, in short and
// long form, land where Compose mounts them, with their owner and mode.
func TestLoad_Secrets(t *testing.T) {
	app, err := loadSecrets(t, `name: shop
services:
  web:
    image: shop:1
    secrets:
      - db_password
      - source: api_key
        target: api.key
        uid: "1000"
        gid: "1001"
        mode: 0400
      - source: tls_key
        target: /etc/ssl/private/web.key
  worker:
    image: shop:1
    secrets: [db_password]
secrets:
  db_password: { file: ./db_password.txt }
  api_key: { environment: API_KEY }
  tls_key: { external: true, name: WEB_TLS_KEY }
  unused: { file: ./missing.txt }
`, map[string]string{"db_password.txt": "hunter2\n"}, map[string]string{"API_KEY": "k-123"})
	if err != nil {
		t.Fatal(err)
	}
	web, _ := app.Service("web")
	want := []SecretFile{
		{Name: "db_password", Target: "/run/secrets/db_password", Content: "hunter2\n"},
		{Name: "api_key", Target: "/run/secrets/api.key", UID: "1000", GID: "1001", Mode: 0o400, Content: "k-123"},
		{Name: "tls_key", Target: "/etc/ssl/private/web.key", Store: "WEB_TLS_KEY"},
	}
	if !reflect.DeepEqual(web.Secrets, want) {
		t.Errorf("web secrets\n got %+v\nwant %+v", web.Secrets, want)
	}
	worker, _ := app.Service("worker")
	if len(worker.Secrets) != 1 || worker.Secrets[0].Content != "hunter2\n" {
		t.Errorf("worker secrets %+v", worker.Secrets)
	}
	if !app.HasSecretContent() {
		t.Error("HasSecretContent is false for a loaded app")
	}
	for _, w := range app.Warnings {
		if strings.Contains(w, "secrets") {
			t.Errorf("warning %q", w)
		}
	}
	if s := want[0].String(); strings.Contains(s, "hunter2") {
		t.Errorf("String shows the content: %s", s)
	}
	// external: true without name: is the berth secret of the key's name.
	app, err = loadSecrets(t, "name: shop\nservices:\n  web:\n    image: shop:1\n    secrets: [DB_PASSWORD]\nsecrets:\n  DB_PASSWORD: { external: true }\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := app.Services[0].Secrets; len(got) != 1 || got[0].Store != "DB_PASSWORD" || got[0].Target != "/run/secrets/DB_PASSWORD" {
		t.Errorf("external secret %+v", got)
	}
}

// A service that mounts no secret keeps its stored JSON form.
func TestService_JSONWithoutSecrets(t *testing.T) {
	b, err := json.Marshal(Service{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secrets") {
		t.Errorf("JSON %s", b)
	}
}

// What cannot be mounted is refused with the key, the service and what
// to write instead; every problem at once.
func TestLoad_SecretErrors(t *testing.T) {
	big := strings.Repeat("x", maxSecret+1)
	dir := t.TempDir()
	_, err := loadSecrets(t, `name: shop
services:
  web:
    image: shop:1
    secrets:
      - missing_file
      - missing_env
      - dashed
      - source: escapes
        target: ../../etc/passwd
      - source: ok
        uid: root
      - source: big
      - source: adir
      - source: ok2
        mode: 010000
secrets:
  missing_file: { file: ./nope.txt }
  missing_env: { environment: NOT_SET }
  dashed: { external: true, name: db-password }
  escapes: { file: ./ok.txt }
  ok: { file: ./ok.txt }
  ok2: { file: ./ok.txt }
  big: { file: ./big.txt }
  adir: { file: `+dir+` }
`, map[string]string{"ok.txt": "v", "big.txt": big}, nil)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`secrets.missing_file: cannot read nope.txt: no such file or directory`,
		`secrets.missing_env: environment variable NOT_SET is not set: set it where berth deploy runs (or in .env)`,
		`secrets.dashed: external secret "db-password": berth's secrets are named with letters, digits and _ (berth secrets set APP KEY); set name: to such a name, e.g. name: db_password`,
		`secrets.escapes.target: must be the absolute path of a file in the container (like /run/secrets/db_password), got "/run/secrets/../../etc/passwd"`,
		`secrets.ok.uid: must be a number (a user or group ID), got "root"`,
		`secrets.big: big.txt has 512001 bytes; secrets must stay under 512000`,
		`is a directory: a secret is one file`,
		`secrets.ok2.mode: must be permission bits like 0440, got 010000`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), big[:100]) {
		t.Error("the error shows a secret's content")
	}
}

// Configs are checked the same way: numeric owner, one file per target.
func TestLoad_ConfigOwnerAndTarget(t *testing.T) {
	_, err := loadSecrets(t, `name: shop
services:
  web:
    image: shop:1
    configs:
      - source: nginx
        target: /etc/nginx.conf
        gid: www
    secrets:
      - source: pw
        target: /etc/nginx.conf
configs:
  nginx: { content: "x" }
secrets:
  pw: { environment: PW }
`, nil, map[string]string{"PW": "p"})
	for _, want := range []string{
		`configs.nginx.gid: must be a number (a user or group ID), got "www"`,
		`/etc/nginx.conf is also the target of`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// The server checks what it receives as Load does.
func TestApp_ValidateSecrets(t *testing.T) {
	app := &App{Name: "shop", Services: []Service{{Name: "web", Image: "shop:1", Replicas: 1,
		Secrets: []SecretFile{{Name: "a", Target: "relative"}, {Name: "b", Target: "/run/secrets/b", Store: "B", Content: "x"}}}}}
	err := app.Validate()
	for _, want := range []string{`secrets.a.target: must be the absolute path`, `secrets.b: an external secret has no content of its own`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// A secret's labels have no effect under berth, and a warning says so.
func TestLoad_SecretLabelsWarn(t *testing.T) {
	app, err := loadSecrets(t, "name: shop\nservices:\n  web:\n    image: shop:1\n    secrets: [pw]\nsecrets:\n  pw: { environment: PW, labels: { team: shop } }\n", nil, map[string]string{"PW": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(app.Warnings, "\n"); !strings.Contains(w, "secrets.pw.labels") || !strings.Contains(w, "no labels") {
		t.Errorf("warnings %q", app.Warnings)
	}
}
