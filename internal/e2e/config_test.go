package e2e

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

func TestConfig_ChangesDeployAndRollbackRestores(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if code, out, errOut := s.berth(t, "config", "set", name, "GREETING=hello"); code != 0 || !strings.Contains(out, "nothing is live yet") {
		t.Fatalf("config set before the first deploy: %d %s %s", code, out, errOut)
	}
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatal(err)
	}
	env := func() string { _, body := get(t, s.addrs.HTTP, host, "/env?name=GREETING"); return body }
	if got := env(); got != "hello" {
		t.Fatalf("GREETING in release 1: %q", got)
	}

	l := startLoad(s.addrs.HTTP, host, 32)
	code, out, errOut := s.berth(t, "config", "set", name, "GREETING=bonjour", "EXTRA=1")
	testutil.Eventually(t, 5*time.Second, "load after config change", func() bool { return l.count("v1") > 100 })
	l.stop()
	if code != 0 || !strings.Contains(out, "served") || l.failed.Load() != 0 {
		t.Fatalf("config set under load: exit %d\n%s\n%s\nload: %s", code, out, errOut, l.summary())
	}
	if got := env(); got != "bonjour" {
		t.Fatalf("GREETING after config set: %q", got)
	}
	rels, _ := s.client.Releases(context.Background(), name, spec.DefaultEnv)
	if rels[0].ID != 2 || rels[0].Config["GREETING"] != "bonjour" || rels[1].Config["GREETING"] != "hello" {
		t.Fatalf("releases do not record their configuration: %+v", rels)
	}
	if _, err := s.rollback(t, name, 0); err != nil {
		t.Fatal(err)
	}
	if got := env(); got != "hello" {
		t.Fatalf("GREETING after rollback: %q", got)
	}
	// The rollback restored the configuration for later deploys too.
	code, out, _ = s.berth(t, "config", "list", name)
	if code != 0 || !strings.Contains(out, "GREETING  hello") || strings.Contains(out, "EXTRA") {
		t.Fatalf("config list after rollback:\n%s", out)
	}
	if code, _, errOut := s.berth(t, "config", "set", name, "1BAD=x"); code == 0 || !strings.Contains(errOut, "not a valid variable name") {
		t.Fatalf("bad variable name: %d %s", code, errOut)
	}
}

func TestSecrets_NeverLeak(t *testing.T) {
	eng := requireDocker(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	name, host := newApp(t, eng)
	const marker = "s3cr3t-MARKER-7f1d"
	var printed strings.Builder
	run := func(stdin string, args ...string) int {
		t.Helper()
		if stdin != "" {
			r, w, _ := os.Pipe()
			go func() { w.WriteString(stdin); w.Close() }()
			old := os.Stdin
			os.Stdin = r
			defer func() { os.Stdin = old }()
		}
		code, out, errOut := s.berth(t, args...)
		printed.WriteString(out + errOut)
		return code
	}
	if code := run(marker+"\n", "secrets", "set", "--new-app", name, "API_KEY"); code != 0 {
		t.Fatalf("secrets set: %s", printed.String())
	}
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1"})); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/env?name=API_KEY"); body != marker {
		t.Fatalf("the container does not see the secret: %q", body)
	}
	// Failures, listings, logs, status, releases, runs.
	_, _ = s.deploy(t, loadApp(t, name, host, appOpts{Version: "v2", Env: map[string]string{"CRASH": "1"}}))
	_, _ = s.deploy(t, loadApp(t, name, host, appOpts{Version: "v2", Env: map[string]string{"UNHEALTHY": "1"}, Deadline: "1s"}))
	for _, args := range [][]string{
		{"secrets", "list", name}, {"secrets", "list", name, "-o", "json"}, {"config", "list", name, "-o", "json"},
		{"status", name, "-o", "json"}, {"status"}, {"releases", name, "-o", "json"}, {"logs", name},
		{"run", name, "web", "--", "print", "one-off"},
	} {
		run("", args...)
	}
	// A user's password, and a right and a wrong sign-in: neither the
	// password nor the session's secret is printed, logged or stored.
	const pwMarker, wrongMarker = "pw-MARKER-e2e-5b7c", "pw-WRONG-MARKER-e2e-9d0a"
	if code := run(pwMarker+"\n", "users", "add", "e2e-ann", "--role", "viewer", "--password-stdin"); code != 0 {
		t.Fatalf("users add: %s", printed.String())
	}
	run("", "users", "list")
	var session string
	for _, pw := range []string{wrongMarker, pwMarker} {
		resp, err := http.Post("http://"+s.addrs.API+"/api/v1/session", "application/json",
			strings.NewReader(`{"name":"e2e-ann","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		printed.Write(b)
		for _, c := range resp.Cookies() {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("the right password made no session")
	}
	if !strings.Contains(printed.String(), "API_KEY") {
		t.Fatalf("secret names are listed: %s", printed.String())
	}
	for _, m := range []string{marker, pwMarker, wrongMarker, session} {
		if strings.Contains(printed.String(), m) {
			t.Fatalf("the CLI or an answer printed a secret (%s):\n%s", m, printed.String())
		}
	}
	s.stop()
	for _, m := range []string{marker, pwMarker, wrongMarker, session} {
		if strings.Contains(s.logs.String(), m) {
			t.Fatalf("the server logged a secret (%s)", m)
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, m := range []string{marker, pwMarker, wrongMarker, session} {
			if strings.Contains(string(b), m) {
				t.Errorf("%s holds a secret (%s) in the clear", p, m)
			}
		}
		return nil
	})
}

func TestReleaseCommand_AbortsTheDeployOnFailure(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	withRelease := func(version string, cmd ...string) *spec.App {
		app := loadApp(t, name, host, appOpts{Version: version})
		app.Services[0].ReleaseCommand = cmd
		return app
	}
	dep, err := s.deploy(t, withRelease("v1", "print", "migrating", "schema"))
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	for _, st := range dep.Timeline {
		ran = ran || strings.Contains(st.Message, "web | migrating schema")
	}
	if !ran {
		t.Fatalf("release command output not in the timeline: %+v", dep.Timeline)
	}
	l := startLoad(s.addrs.HTTP, host, 16)
	_, err = s.deploy(t, withRelease("v2", "exit", "3"))
	testutil.Eventually(t, 5*time.Second, "load after refusal", func() bool { return l.count("v1") > 100 })
	l.stop()
	if err == nil || !strings.Contains(err.Error(), "exited with code 3") || !strings.Contains(err.Error(), "exiting with 3") {
		t.Fatalf("failing release command: %v", err)
	}
	if l.failed.Load() != 0 || l.count("v2") != 0 {
		t.Fatalf("the live release was disturbed: %s", l.summary())
	}
	cs, _ := eng.ListContainers(context.Background(), map[string]string{"berth.app": name})
	for _, c := range cs {
		if c.Labels["berth.release"] != "1" {
			t.Errorf("container %s left behind", c.Name)
		}
	}
}

func TestRun_ExitCodeAndOutput(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1, Env: map[string]string{"WHO": "berth"}})); err != nil {
		t.Fatal(err)
	}
	code, out, _ := s.berth(t, "run", name, "web", "--", "env", "WHO")
	if code != 0 || strings.TrimSpace(out) != "berth" {
		t.Fatalf("run env: exit %d %q", code, out)
	}
	code, out, errOut := s.berth(t, "run", name, "web", "--", "exit", "7")
	if code != 7 || !strings.Contains(out, "exiting with 7") || errOut != "" {
		t.Fatalf("run exit 7: exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := s.berth(t, "run", name, "nope", "--", "print"); code == 0 || !strings.Contains(errOut, `no service "nope"`) {
		t.Fatalf("unknown service: %d %s", code, errOut)
	}
	cs, _ := eng.ListContainers(context.Background(), map[string]string{"berth.app": name, "berth.oneoff": "true"})
	if len(cs) != 0 {
		t.Fatalf("one-off containers left behind: %d", len(cs))
	}
}

func TestConfig_InterpolatesTheComposeFile(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if code, out, errOut := s.berth(t, "config", "set", name, "APP_VERSION=from-config", "REPLICAS=1"); code != 0 {
		t.Fatalf("config set: %s %s", out, errOut)
	}
	p := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: "${APP_VERSION}" }
    deploy:
      replicas: ${REPLICAS}
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
`)
	if code, out, errOut := s.berth(t, "deploy", "-f", p); code != 0 {
		t.Fatalf("deploy: %s %s", out, errOut)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "from-config" {
		t.Fatalf("interpolated VERSION: %q", body)
	}
}

func TestEnv_CloneCopiesDefinitionAndConfigNotData(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	t.Cleanup(func() { _ = eng.RemoveNetwork(context.Background(), "berth-"+name+"-staging") })
	s.removeVolumesAtEnd(t, eng, name, name+"-production-data", name+"-staging-data")
	s.berth(t, "config", "set", name, "GREETING=hi")
	if _, err := s.deploy(t, volumeApp(t, name, host, "v1", "")); err != nil {
		t.Fatal(err)
	}
	get(t, s.addrs.HTTP, host, "/write?path=/data/prod.txt&data=production-data")
	code, out, errOut := s.berth(t, "env", "clone", name, "production", "staging")
	if code != 0 || !strings.Contains(out, "staging."+host) {
		t.Fatalf("env clone: %d\n%s\n%s", code, out, errOut)
	}
	staging := "staging." + host
	if _, body := get(t, s.addrs.HTTP, staging, "/"); body != "v1" {
		t.Fatalf("staging answers %q", body)
	}
	if _, body := get(t, s.addrs.HTTP, staging, "/env?name=GREETING"); body != "hi" {
		t.Fatalf("staging config: %q", body)
	}
	if code, _ := get(t, s.addrs.HTTP, staging, "/read?path=/data/prod.txt"); code != 404 {
		t.Fatalf("staging sees production's data (%d)", code)
	}
	if code, _, errOut := s.berth(t, "env", "clone", name, "production", "staging"); code == 0 || !strings.Contains(errOut, "exists already") {
		t.Fatalf("clone onto a live environment: %d %s", code, errOut)
	}
}

func TestRun_WithATerminal(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := s.client.RunTTY(ctx, name, spec.DefaultEnv, "web", []string{"ask"}, 24, 80, strings.NewReader("hello\n"), &out, nil)
	if err != nil || code != 5 || !strings.Contains(out.String(), "got: HELLO") || !strings.Contains(out.String(), "name? ") {
		t.Fatalf("interactive run: code %d err %v output %q", code, err, out.String())
	}
	if _, err := s.client.RunTTY(ctx, name, spec.DefaultEnv, "nope", []string{"ask"}, 24, 80, strings.NewReader(""), &out, nil); err == nil || !strings.Contains(err.Error(), `no service "nope"`) {
		t.Fatalf("unknown service on a terminal: %v", err)
	}
}

func TestEnvironments_FromTheComposeFile(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	t.Cleanup(func() {
		cs, _ := eng.ListContainers(context.Background(), map[string]string{"berth.app": name})
		for _, c := range cs {
			_ = eng.RemoveContainer(context.Background(), c.ID)
		}
		_ = eng.RemoveNetwork(context.Background(), "berth-"+name+"-staging")
	})
	p := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: v1 }
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up } }
x-berth:
  environments:
    staging:
      branch: master
      hosts: { web: [staging-`+host+`] }
      variables: { VERSION: staging-v1 }
`)
	if code, out, errOut := s.berth(t, "deploy", "-f", p, "--env", "staging"); code != 0 {
		t.Fatalf("deploy --env staging: %s %s", out, errOut)
	}
	if code, out, errOut := s.berth(t, "deploy", "-f", p); code != 0 {
		t.Fatalf("deploy production: %s %s", out, errOut)
	}
	if _, body := get(t, s.addrs.HTTP, "staging-"+host, "/"); body != "staging-v1" {
		t.Fatalf("staging answers %q", body)
	}
	if _, body := get(t, s.addrs.HTTP, host, "/"); body != "v1" {
		t.Fatalf("production answers %q", body)
	}
}
