package e2e

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

// secretsApp writes a Compose file whose web service mounts a secret
// from a file, one from the environment, one from berth's store and a
// config, and loads it with API_KEY=apiKey.
func secretsApp(t *testing.T, name, host, version, password, apiKey, conf, external string) *spec.App {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "db_password.txt"), []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: %s }
    secrets:
      - db_password
      - source: api_key
        target: api.key
        uid: "1000"
        gid: "1001"
        mode: 0400
      - source: token
        target: /etc/app/token
    configs:
      - source: app_conf
        target: /etc/app/app.conf
        uid: "33"
        gid: "33"
        mode: 0440
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
secrets:
  db_password: { file: ./db_password.txt }
  api_key: { environment: API_KEY }
  token: { external: true, name: %s }
configs:
  app_conf: { content: %q }
`, name, image(t).Ref, version, host, external, conf)
	p := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}, Environ: map[string]string{"API_KEY": apiKey}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

type fileWant struct {
	path, data string
	uid, gid   int
	mode       int64
}

// checkFiles reads each file through the proxy and from every live
// container of the app, with its owner and mode.
func checkFiles(t *testing.T, s *server, eng *docker.Backend, app, host, when string, want []fileWant) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := s.client.Status(ctx, app, spec.DefaultEnv)
	if err != nil || st.Live == nil {
		t.Fatalf("%s: status %+v %v", when, st, err)
	}
	cs, err := eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelRelease: fmt.Sprint(st.Live.ID)})
	if err != nil || len(cs) == 0 {
		t.Fatalf("%s: containers of release %d: %v %v", when, st.Live.ID, cs, err)
	}
	for _, w := range want {
		if code, body := get(t, s.addrs.HTTP, host, "/read?path="+w.path); code != 200 || body != w.data {
			t.Errorf("%s: the app reads %s: %d %q, want %q", when, w.path, code, body, w.data)
		}
		for _, c := range cs {
			rc, _, err := eng.Client().CopyFromContainer(ctx, c.ID, w.path)
			if err != nil {
				t.Fatalf("%s: copy %s from %s: %v", when, w.path, c.Name, err)
			}
			hdr, err := tar.NewReader(rc).Next()
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Uid != w.uid || hdr.Gid != w.gid || hdr.Mode&0o7777 != w.mode || hdr.Size != int64(len(w.data)) {
				t.Errorf("%s: %s in %s is %d:%d %04o (%d bytes), want %d:%d %04o", when, w.path, c.Name, hdr.Uid, hdr.Gid, hdr.Mode&0o7777, hdr.Size, w.uid, w.gid, w.mode)
			}
		}
	}
}

func filesOf(password, apiKey, token, conf string) []fileWant {
	return []fileWant{
		{"/run/secrets/db_password", password, 0, 0, 0o444},
		{"/run/secrets/api.key", apiKey, 1000, 1001, 0o400},
		{"/etc/app/token", token, 0, 0, 0o444},
		{"/etc/app/app.conf", conf, 33, 33, 0o440},
	}
}

// Compose secrets (file, environment, berth's store) and configs reach a
// service's containers on one host where Compose mounts them, with their
// owner and mode; a rollback mounts the earlier release's content; a
// missing store secret is refused before anything changes; and no API
// answer or log line holds a secret's value.
func TestSecrets_MountedOnOneHostAndRolledBack(t *testing.T) {
	eng := requireDocker(t)
	ctx := context.Background()
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	var progress []string
	say := func(p dto.Progress) { progress = append(progress, p.Message) }
	set := func(key, value string) {
		t.Helper()
		if _, err := s.client.SetSecretOfNewApp(ctx, name, spec.DefaultEnv, key, value, say); err != nil {
			t.Fatalf("set secret %s: %v", key, err)
		}
	}
	deploy := func(app *spec.App) {
		t.Helper()
		if _, err := s.client.Deploy(ctx, app, spec.DefaultEnv, dto.DeployOptions{}, say); err != nil {
			t.Fatalf("deploy: %v\n%s", err, strings.Join(progress, "\n"))
		}
	}

	set("WEB_TOKEN", "tok-one-4f1c")
	deploy(secretsApp(t, name, host, "v1", "pw-one-9a7e", "key-one-2b3d", "conf-one", "WEB_TOKEN"))
	checkFiles(t, s, eng, name, host, "release 1", filesOf("pw-one-9a7e", "key-one-2b3d", "tok-one-4f1c", "conf-one"))

	// A changed store secret deploys release 2 from release 1's
	// definition: its file secrets' content comes along.
	set("WEB_TOKEN", "tok-two-8e5a")
	checkFiles(t, s, eng, name, host, "release 2", filesOf("pw-one-9a7e", "key-one-2b3d", "tok-two-8e5a", "conf-one"))

	deploy(secretsApp(t, name, host, "v3", "pw-three-c0d1", "key-three-77aa", "conf-three", "WEB_TOKEN"))
	checkFiles(t, s, eng, name, host, "release 3", filesOf("pw-three-c0d1", "key-three-77aa", "tok-two-8e5a", "conf-three"))

	if _, err := s.rollback(t, name, 1); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, s, eng, name, host, "after the rollback to release 1", filesOf("pw-one-9a7e", "key-one-2b3d", "tok-one-4f1c", "conf-one"))

	// A store secret that is not set is refused before anything changes.
	before, _ := s.client.Releases(ctx, name, spec.DefaultEnv)
	_, err := s.client.Deploy(ctx, secretsApp(t, name, host, "v4", "pw-four", "key-four", "conf-four", "NOT_SET_YET"), spec.DefaultEnv, dto.DeployOptions{}, nil)
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "NOT_SET_YET") ||
		!strings.Contains(err.Error(), fmt.Sprintf("berth secrets set %s NOT_SET_YET --env production", name)) {
		t.Fatalf("deploy with a missing store secret: %v", err)
	}
	if after, _ := s.client.Releases(ctx, name, spec.DefaultEnv); len(after) != len(before) {
		t.Errorf("the refused deploy recorded a release: %d releases, %d before", len(after), len(before))
	}
	checkFiles(t, s, eng, name, host, "after the refused deploy", filesOf("pw-one-9a7e", "key-one-2b3d", "tok-one-4f1c", "conf-one"))

	// No API answer, progress line or log line holds a secret's value.
	var answers []any
	rels, err := s.client.Releases(ctx, name, spec.DefaultEnv)
	answers = append(answers, rels, err)
	st, err := s.client.Status(ctx, name, spec.DefaultEnv)
	answers = append(answers, st, err)
	deps, err := s.client.Deployments(ctx, name, spec.DefaultEnv, 50)
	answers = append(answers, deps, err)
	cfg, err := s.client.Config(ctx, name, spec.DefaultEnv)
	answers = append(answers, cfg, err)
	evs, err := s.client.Events(ctx, name, spec.DefaultEnv, 100)
	answers = append(answers, evs, err)
	b, _ := json.Marshal(answers)
	var logs strings.Builder
	_ = s.client.Logs(ctx, name, spec.DefaultEnv, apiclient.LogOptions{}, &logs)
	for _, v := range []string{"pw-one-9a7e", "key-one-2b3d", "tok-one-4f1c", "tok-two-8e5a", "pw-three-c0d1", "key-three-77aa"} {
		for where, text := range map[string]string{"the API's answers": string(b), "the deploy progress": strings.Join(progress, "\n"), "the server's log": s.logs.String(), "berth logs": logs.String()} {
			if strings.Contains(text, v) {
				t.Errorf("%s hold the secret value %q", where, v)
			}
		}
	}
	if len(rels) == 0 || len(rels[0].Spec.Services) == 0 || len(rels[0].Spec.Services[0].Secrets) != 3 {
		t.Errorf("the releases do not list the secrets (by name): %+v", rels)
	}
}
