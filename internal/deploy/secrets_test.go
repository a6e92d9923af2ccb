package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

func secretService(s spec.Service) spec.Service {
	s.Secrets = []spec.SecretFile{
		{Name: "db_password", Target: "/run/secrets/db_password", Content: "pw-one", UID: "999", Mode: 0o400},
		{Name: "token", Target: "/run/secrets/TOKEN", Store: "TOKEN", Mode: 0o440},
	}
	s.Configs = []spec.ConfigFile{{Name: "app_conf", Target: "/etc/app.conf", Content: "conf", GID: "33"}}
	return s
}

// On a cluster, Compose secrets become cluster secrets mounted with their
// target, owner and mode; one mounted where a berth secret of the same
// name would be takes its place; nothing is written as a file into the
// template, and the stored release holds no secret content.
func TestDeployer_ComposeSecretsBecomeClusterSecrets(t *testing.T) {
	cf := newClusterFixture(t)
	if err := cf.st.SetSecret("shop", "production", "TOKEN", "tok-one"); err != nil {
		t.Fatal(err)
	}
	app := clusterApp("v1")
	app.Services[0] = secretService(app.Services[0])
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ws, ok := cf.f.AppliedWorkload("shop-production-web")
	if !ok {
		t.Fatal("no workload")
	}
	if len(ws.Template.Files) != 0 {
		t.Errorf("template files %v", ws.Template.Files)
	}
	byTarget := map[string]engine.SecretMount{}
	for _, m := range ws.Secrets {
		if _, dup := byTarget[m.Target]; dup {
			t.Errorf("two secrets at %s: %+v", m.Target, ws.Secrets)
		}
		byTarget[m.Target] = m
	}
	pw, tok := byTarget["db_password"], byTarget["TOKEN"]
	if data, _ := cf.f.SecretData(pw.Secret); string(data) != "pw-one" || pw.UID != "999" || pw.Mode != 0o400 || !strings.HasPrefix(pw.Secret, "berth-shop-production-web-db_password-") {
		t.Errorf("db_password mount %+v holds %q", pw, data)
	}
	if data, _ := cf.f.SecretData(tok.Secret); string(data) != "tok-one" || tok.Mode != 0o440 {
		t.Errorf("TOKEN mount %+v holds %q", tok, data)
	}
	rels, _ := cf.st.ListReleases("shop", "production")
	b, _ := json.Marshal(rels)
	if strings.Contains(string(b), "pw-one") || strings.Contains(string(b), "tok-one") {
		t.Errorf("the stored releases hold a secret: %s", b)
	}
}

// A one-off command gets the live release's secrets and configs as
// files; a deploy mounting a berth secret that is not set is refused
// before anything changes.
func TestDeployer_SecretFilesOnOneHost(t *testing.T) {
	f := enginetest.NewFake()
	ctx := context.Background()
	d := fakeDeployer(t, f)
	app := clusterApp("v1")
	app.Services[0] = secretService(app.Services[0])
	_, err := d.Deploy(ctx, app, "production", DeployOptions{}, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "berth secrets set shop TOKEN --env production < FILE") {
		t.Fatalf("deploy without TOKEN: %v", err)
	}
	if _, err := d.store.GetApp("shop"); err == nil {
		t.Error("the refused deploy recorded the app")
	}
	if app.Services[0].Secrets[0].Content != "pw-one" {
		t.Error("the refused deploy changed the definition")
	}

	if err := d.store.SetSecret("shop", "production", "TOKEN", "tok-one"); err != nil {
		t.Fatal(err)
	}
	rel, err := d.store.CreateRelease(sealedRelease(app, "production", map[string]store.ServiceImage{"web": {Image: "shop:1", ImageID: "sha256:1"}}))
	if err != nil {
		t.Fatal(err)
	}
	if app.HasSecretContent() || rel.Spec.HasSecretContent() {
		t.Error("the release's definition keeps the secret content")
	}
	if _, err := d.store.Activate("shop", "production", rel.ID, store.StatusSuperseded); err != nil {
		t.Fatal(err)
	}
	if err := d.store.SetSecret("shop", "production", "TOKEN", "tok-two"); err != nil {
		t.Fatal(err)
	}
	cs, err := d.oneOffSpec(ctx, "shop", "production", "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.File{
		{Path: "/run/secrets/db_password", Data: []byte("pw-one"), UID: 999, Mode: 0o400},
		{Path: "/run/secrets/TOKEN", Data: []byte("tok-one"), Mode: 0o440}, // the release's snapshot
		{Path: "/etc/app.conf", Data: []byte("conf"), GID: 33},
	}
	if !slices.EqualFunc(cs.Files, want, func(a, b engine.File) bool { return a.String() == b.String() && string(a.Data) == string(b.Data) }) {
		t.Errorf("one-off files %v, want %v", cs.Files, want)
	}
	for _, e := range cs.Env {
		if strings.Contains(e, "pw-one") {
			t.Errorf("a file secret is in the environment: %s", e)
		}
	}
}

// A clone carries the Compose file's secrets (they are part of the
// definition) and refuses to start without the berth secrets they name
// in the new environment.
func TestDeployer_CloneCarriesComposeSecrets(t *testing.T) {
	cf := newClusterFixture(t)
	ctx := context.Background()
	if err := cf.st.SetSecret("shop", "production", "TOKEN", "tok-prod"); err != nil {
		t.Fatal(err)
	}
	app := clusterApp("v1")
	app.Services[0] = secretService(app.Services[0])
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	opts := CloneOptions{Hosts: map[string][]string{"web": {"staging.shop.test"}}}
	_, err := cf.d.Clone(ctx, "shop", "production", "staging", opts, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "berth secrets set shop TOKEN --env staging") {
		t.Fatalf("clone without TOKEN in staging: %v", err)
	}
	if err := cf.st.SetSecret("shop", "staging", "TOKEN", "tok-staging"); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.d.Clone(ctx, "shop", "production", "staging", opts, nil); err != nil {
		t.Fatal(err)
	}
	ws, ok := cf.f.AppliedWorkload("shop-staging-web")
	if !ok {
		t.Fatal("no staging workload")
	}
	got := map[string]string{}
	for _, m := range ws.Secrets {
		data, _ := cf.f.SecretData(m.Secret)
		got[m.Target] = string(data)
	}
	if got["db_password"] != "pw-one" || got["TOKEN"] != "tok-staging" {
		t.Errorf("staging secrets %v", got)
	}
}
