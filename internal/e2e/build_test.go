package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeploy_BuildsServicesWithBuildSections(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	dir := t.TempDir()
	for file, body := range map[string]string{
		"Dockerfile":    "FROM " + image(t).ID + "\nARG FLAVOUR\nENV VERSION=built-$FLAVOUR\nCOPY greeting.txt /greeting.txt\n",
		"greeting.txt":  "hi",
		"junk.log":      "ignored",
		".dockerignore": "*.log\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compose := func(test string) string {
		return writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    build: { context: `+dir+`, args: { FLAVOUR: vanilla } }
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up }, test: `+test+` }
`)
	}
	code, out, errOut := s.berth(t, "deploy", "-f", compose(`["print", "selftest ok"]`))
	if code != 0 {
		t.Fatalf("deploy with build: %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"building web", "test | selftest ok", "test passed", "built web: " + name + "-web:", "release 1 of"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "built-vanilla" {
		t.Fatalf("built image answers %q", body)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/read?path=/greeting.txt"); code != 200 || body != "hi" {
		t.Fatalf("greeting: %d %q", code, body)
	}

	// A failing test stops the pipeline: nothing is deployed.
	code, out, errOut = s.berth(t, "deploy", "-f", compose(`["exit", "4"]`))
	if code == 0 || !strings.Contains(errOut, "test of service \"web\" failed") || !strings.Contains(errOut, "nothing was deployed") {
		t.Fatalf("failing test: %d\n%s\n%s", code, out, errOut)
	}
	rels, _ := s.client.Releases(t.Context(), name, "production")
	if len(rels) != 1 {
		t.Fatalf("a release was created despite the failing test: %d releases", len(rels))
	}
	// Both builds are kept with their logs.
	bs, err := s.client.Builds(t.Context(), name, 10)
	if err != nil || len(bs) != 2 || bs[0].Status != "failed" || bs[1].Status != "succeeded" {
		t.Fatalf("builds: %+v %v", bs, err)
	}
	code, out, _ = s.berth(t, "builds", "logs", fmt.Sprint(bs[1].ID))
	if code != 0 || !strings.Contains(out, "exporting to image") { // BuildKit's progress, as buildx prints it
		t.Fatalf("builds logs: %s", out)
	}
}
