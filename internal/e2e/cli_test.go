package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/daemon"
)

// berth runs the CLI in-process against s and returns exit code, stdout
// and stderr.
func (s *server) berth(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(s.dataDir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_ADDR", "http://"+s.addrs.API)
	t.Setenv("BERTH_TOKEN", strings.TrimSpace(string(tok)))
	var out, errb bytes.Buffer
	code := cli.Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLI_DeployStatusReleasesLogs(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	compose := func(version string, extra string) string {
		return writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: `+version+extra+` }
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up, deadline: 3s } }
`)
	}

	code, out, errOut := s.berth(t, "deploy", "-f", compose("v1", ""))
	if code != 0 {
		t.Fatalf("deploy exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "requests during the deploy") {
		t.Errorf("the first deploy, with nothing routed before, prints a request tally:\n%s", out)
	}
	l := startLoad(s.addrs.HTTP, host, 8)
	code, out, errOut = s.berth(t, "deploy", "-f", compose("v2", ""))
	l.stop()
	if code != 0 {
		t.Fatalf("deploy v2 exit %d\n%s\n%s", code, out, errOut)
	}
	for _, step := range []string{"image web:", "starting web 1/1", "healthy web 1/1", "switched web to release 2", "draining web", "done in"} {
		if !strings.Contains(out, step) {
			t.Errorf("deploy progress lacks %q:\n%s", step, out)
		}
	}
	m := regexp.MustCompile(`served ([0-9,]+) requests during the deploy, 0 failed`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Errorf("deploy output lacks the request tally with traffic:\n%s", out)
	}

	// A refused release: non-zero exit, the reason on stderr.
	code, out, errOut = s.berth(t, "deploy", "-f", compose("v3", ", UNHEALTHY: \"1\""))
	if code == 0 || !strings.Contains(errOut, "health check GET /up did not pass") || !strings.Contains(errOut, "release 2 keeps serving") {
		t.Fatalf("refused deploy: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}

	// A bad Compose file never reaches the server.
	bad := writeFile(t, "bad.yaml", "name: "+name+"\nservices:\n  web:\n    image: x\n    x-berth: { hosts: [a.test] }\n")
	code, _, errOut = s.berth(t, "deploy", "-f", bad)
	if code == 0 || !strings.Contains(errOut, `bad.yaml: service "web": x-berth.port`) {
		t.Fatalf("bad compose file: exit %d: %s", code, errOut)
	}

	code, out, _ = s.berth(t, "status", name, "--output", "json")
	var st []dto.EnvStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st) != 1 || st[0].Live == nil || st[0].Live.ID != 2 {
		t.Fatalf("status json: exit %d %s", code, out)
	}
	if c := st[0].Services[0].Containers; len(c) != 1 || c[0].Health != "healthy" {
		t.Fatalf("status containers: %+v", c)
	}
	code, out, _ = s.berth(t, "status", name)
	if code != 0 || !strings.Contains(out, "release 2 live") || !strings.Contains(out, "healthy") {
		t.Fatalf("status text: %s", out)
	}

	code, out, _ = s.berth(t, "releases", name, "--output", "json")
	var rels []dto.Release
	if code != 0 || json.Unmarshal([]byte(out), &rels) != nil || len(rels) != 3 {
		t.Fatalf("releases json: %s", out)
	}
	if rels[0].Status != "failed" || rels[1].Status != "live" || rels[2].Status != "superseded" {
		t.Fatalf("release statuses: %s %s %s", rels[0].Status, rels[1].Status, rels[2].Status)
	}
	if rels[1].Services["web"].ImageID != image(t).ID || rels[1].Spec.Name != name {
		t.Fatalf("release 2 does not record the image ID and spec: %+v", rels[1])
	}
	for _, r := range rels {
		if r.CreatedBy != "admin-token" {
			t.Fatalf("release %d made by %q, want admin-token", r.ID, r.CreatedBy)
		}
	}
	if code, out, _ = s.berth(t, "releases", name); code != 0 || !strings.Contains(out, "BY") || strings.Count(out, "admin-token") != 3 {
		t.Fatalf("releases text does not say who made them: %s", out)
	}

	code, out, _ = s.berth(t, "logs", name, "web")
	if code != 0 || !strings.Contains(out, "testapp v2 starting") {
		t.Fatalf("logs: exit %d %q", code, out)
	}

	code, _, errOut = s.berth(t, "rollback", name, "--to", "3")
	if code == 0 || !strings.Contains(errOut, "never went live") {
		t.Fatalf("rollback to a failed release: exit %d %s", code, errOut)
	}
	code, out, _ = s.berth(t, "rollback", name)
	if code != 0 || !strings.Contains(out, "release 1 of "+name+"/production is live") {
		t.Fatalf("rollback: exit %d %s", code, out)
	}

	// The audit log has each deploy and rollback, by the admin token,
	// with its outcome and deployment, newest first.
	code, out, _ = s.berth(t, "audit", "--app", name, "--output", "json")
	var entries []dto.AuditEntry
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil {
		t.Fatalf("audit json: exit %d %s", code, out)
	}
	var got []string
	for _, e := range entries {
		if e.Action != "deploy" && e.Action != "rollback" {
			continue
		}
		if e.Actor != "admin-token" || e.Outcome == "ok" && e.Deployment == 0 {
			t.Errorf("audit entry %+v", e)
		}
		got = append(got, e.Action+":"+e.Outcome)
	}
	if want := "rollback:ok rollback:failed deploy:failed deploy:ok deploy:ok"; strings.Join(got, " ") != want {
		t.Errorf("audit: %s, want %s\n%s", strings.Join(got, " "), want, out)
	}
	tok, _ := os.ReadFile(filepath.Join(s.dataDir, daemon.TokenFile))
	if code, out, _ = s.berth(t, "audit", "--app", name); code != 0 || !strings.Contains(out, "rollback") || strings.Contains(out, strings.TrimSpace(string(tok))) {
		t.Fatalf("audit text: exit %d %s", code, out)
	}
}

// The newcomer's first run: a Compose file without name: is named after
// its directory, and the deploy says so; with nothing routed before,
// there is no request tally to print.
func TestCLI_FirstDeployOfAnUnnamedFile(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	t.Setenv("COMPOSE_PROJECT_NAME", "")
	os.Unsetenv("COMPOSE_PROJECT_NAME")
	dir := filepath.Join(t.TempDir(), strings.ToUpper(name))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(`services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: v1 }
    x-berth: { port: 8080, hosts: [`+host+`], healthcheck: { path: /up, deadline: 20s } }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := s.berth(t, "deploy", "-f", file)
	if code != 0 {
		t.Fatalf("deploy exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		`app name "` + name + `", from the directory "` + strings.ToUpper(name) + `"`,
		"release 1 of " + name + "/production is live",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "requests during the deploy") {
		t.Errorf("a first deploy prints a request tally:\n%s", out)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
		t.Fatalf("GET after the first deploy: %d %q", code, body)
	}
}
