package spec

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A key berth does not apply is named in a warning with its file and
// service; applied keys, x- extensions and services outside the active
// profiles are not.
func TestLoad_WarnsOfKeysItDoesNotApply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(`name: shop
version: "3.8"
services:
  web:
    image: shop:1
    ports: ["8080:80"]
    restart: always
    environment: { A: "1" }
    x-berth: { port: 80, hosts: [shop.localhost] }
  debug:
    image: shop:1
    profiles: [debug]
    cap_add: [NET_ADMIN]
x-common: {}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := Load(context.Background(), LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"compose.yaml: services.web.ports: berth does not apply this key yet, so it has no effect; " + keyHints["ports"],
		"compose.yaml: services.web.restart: berth does not apply this key yet, so it has no effect; " + keyHints["restart"],
		"compose.yaml: version: berth does not apply this key yet, so it has no effect; " + keyHints["version"],
	}
	if !slices.Equal(app.Warnings, want) {
		t.Errorf("warnings:\n%q\nwant:\n%q", app.Warnings, want)
	}
	if env := app.ForEnv(DefaultEnv); !slices.Equal(env.Warnings, app.Warnings) {
		t.Errorf("ForEnv lost the warnings: %q", env.Warnings)
	}
}
