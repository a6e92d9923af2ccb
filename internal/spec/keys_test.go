package spec

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// composeTypeKeys walks compose-go's types from t by their yaml tags and
// returns the path of every key below an applied one: those berth must
// have decided on. A map of structs is a name the user picks ("*").
func composeTypeKeys(t reflect.Type, path string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if strings.HasPrefix(name, "#") || name == "-" {
				continue // compose-go's extensions and internal fields
			}
			if name == "" {
				if strings.Contains(opts, "inline") {
					composeTypeKeys(f.Type, path, out)
				}
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			out[p] = true
			if r, ok := composeKeys[p]; ok && (r.status == keyApplied || r.status == keyDeprecated) {
				composeTypeKeys(f.Type, p, out)
			}
		}
	case reflect.Map:
		e := t.Elem()
		for e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if e.Kind() == reflect.Struct {
			p := path + ".*"
			out[p] = true
			if r, ok := composeKeys[p]; ok && r.status == keyApplied {
				composeTypeKeys(e, p, out)
			}
		}
	}
}

// Every key of compose-go's types below an applied key is decided in
// composeKeys, and every entry of composeKeys is a key compose-go knows:
// a compose-go upgrade that adds a key fails here until someone decides
// what berth does with it.
func TestComposeKeys_EveryKeyIsDecided(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	composeTypeKeys(reflect.TypeOf(types.Project{}), "", known)
	var undecided, stale []string
	for p := range known {
		if _, ok := composeKeys[p]; !ok {
			undecided = append(undecided, p)
		}
	}
	for p := range composeKeys {
		if _, legacy := legacyKeys[p]; !known[p] && !underDecided(p) && !legacy {
			stale = append(stale, p)
		}
	}
	sort.Strings(undecided)
	sort.Strings(stale)
	if len(undecided) > 0 {
		t.Errorf("compose-go keys no one decided on (add them to composeKeys in keys.go as applied, refused or ignored):\n  %s", strings.Join(undecided, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("composeKeys entries compose-go does not know (a typo, or a key compose-go dropped):\n  %s", strings.Join(stale, "\n  "))
	}
	for p, r := range composeKeys {
		if r.status != keyApplied && r.note == "" {
			t.Errorf("%s is %s without a note saying why and what to write instead", p, r.status)
		}
	}
}

// underDecided reports whether p is below a key that is refused or
// ignored (its children need no decision of their own, but may have one).
func underDecided(p string) bool {
	for i := strings.LastIndexByte(p, '.'); i > 0; i = strings.LastIndexByte(p[:i], '.') {
		if r, ok := composeKeys[p[:i]]; ok && (r.status == keyRefused || r.status == keyIgnored) {
			return true
		}
	}
	return false
}

func writeCompose(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// A refused key stops the load with the file, the service and the key
// (nested ones too, in both list and map forms); an ignored one is a
// warning in the same shape; applied keys, x- extensions, the user's own
// keys (labels, args) and services outside the active profiles are not
// named.
func TestLoad_DecidesEveryKey(t *testing.T) {
	t.Parallel()
	file := writeCompose(t, `name: shop
version: "3.8"
services:
  web:
    image: shop:1
    container_name: shop-web
    environment: { A: "1" }
    labels: { com.example.team: web }
    deploy:
      resources:
        reservations:
          devices: [{ capabilities: [gpu] }]
    volumes:
      - type: volume
        source: data
        target: /data
        volume: { labels: { a: b } }
    healthcheck: { test: ["CMD", "true"], start_interval: 1s }
    gpus: all
    x-berth: { port: 80, hosts: [shop.localhost] }
  debug:
    image: shop:1
    profiles: [debug]
    use_api_socket: true
volumes:
  data: {}
x-common: {}
`)
	_, err := Load(context.Background(), LoadOptions{Files: []string{file}})
	var errs Errors
	if err == nil || !asErrors(err, &errs) {
		t.Fatalf("err = %v, want the refused keys", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Service+" "+e.Field)
		if e.File != file || e.Msg == "" {
			t.Errorf("%v: want the file %s and a reason", e, file)
		}
	}
	want := []string{
		"web deploy.resources.reservations.devices",
		"web gpus",
		"web volumes[0].volume.labels",
	}
	if !slices.Equal(got, want) {
		t.Errorf("refused:\n%q\nwant:\n%q\n(%v)", got, want, err)
	}

	// The same file without the refused keys loads, with warnings.
	file = writeCompose(t, `name: shop
version: "3.8"
services:
  web:
    container_name: shop-web
    image: shop:${TAG}
    environment: { MODE: "${MODE:-prod}" }
    healthcheck: { test: ["CMD", "true"], start_interval: 1s }
    volumes:
      - old:/old
      - ./conf:/etc/conf:ro,Z
      - { type: bind, source: ./conf, target: /etc/conf2, bind: { selinux: z } }
    x-berth: { port: 80, hosts: [shop.localhost] }
volumes:
  old: { external: { name: shop_old } }
`)
	if err := os.Mkdir(filepath.Join(filepath.Dir(file), "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	app, err := Load(context.Background(), LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	wantW := []string{
		file + `: service "web": healthcheck.start_interval: has no effect: ` + serviceKeys["healthcheck.start_interval"].note,
		file + `: variable TAG is not set, so it is replaced by an empty string (as docker compose does); set it in the environment or in .env, or give a default: ${TAG:-VALUE}`,
		file + `: version: has no effect: ` + loaderKeys["version"].note,
		file + `: volumes.old.external.name: ` + legacyKeys["volumes.*.external.name"].note,
	}
	if !slices.Equal(app.Warnings, wantW) {
		t.Errorf("warnings:\n%q\nwant:\n%q", app.Warnings, wantW)
	}
	if env := app.ForEnv(DefaultEnv); !slices.Equal(env.Warnings, app.Warnings) {
		t.Errorf("ForEnv lost the warnings: %q", env.Warnings)
	}
}

func asErrors(err error, target *Errors) bool {
	es, ok := err.(Errors)
	*target = es
	return ok
}

// container_name is one name: a service of several replicas cannot have
// it, as docker compose says too.
func TestLoad_ContainerNameNeedsOneReplica(t *testing.T) {
	t.Parallel()
	file := writeCompose(t, `name: shop
services:
  db: { image: db:1, container_name: postgres }
  web: { image: web:1, container_name: web1, deploy: { replicas: 2 } }
`)
	_, err := Load(context.Background(), LoadOptions{Files: []string{file}})
	// compose-go refuses it first, in its own words.
	if err == nil || !strings.Contains(err.Error(), "container_name") || !strings.Contains(err.Error(), "web") || strings.Contains(err.Error(), `"db"`) {
		t.Fatalf("got %v", err)
	}
	file = writeCompose(t, `name: shop
services:
  db: { image: db:1, container_name: postgres }
`)
	app, err := Load(context.Background(), LoadOptions{Files: []string{file}})
	if err != nil || app.Services[0].ContainerName != "postgres" || len(app.Warnings) > 0 {
		t.Fatalf("%v %+v %q", err, app, app.Warnings)
	}
}
