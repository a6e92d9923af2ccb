package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/volume"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

// externalApp is an app whose web service mounts the external volume
// vol at /data.
func externalApp(t *testing.T, name, host, version, vol string) *spec.App {
	t.Helper()
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: %s }
    volumes: ["uploads:/data"]
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
volumes:
  uploads:
    external: true
    name: %s
`, name, image(t).Ref, version, host, vol))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// writeIntoVolume starts a container of the test image mounting vol at
// /data, has it write data to /data/name, and removes it.
func writeIntoVolume(t *testing.T, eng *docker.Backend, vol, name, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b [3]byte
	_, _ = rand.Read(b[:])
	c, err := eng.CreateContainer(ctx, engine.ContainerSpec{
		Name: "e2e-writer-" + hex.EncodeToString(b[:]), Image: image(t).ID, StopGrace: time.Second,
		Mounts: []engine.Mount{{Type: "volume", Source: vol, Target: "/data"}},
	})
	if c.ID != "" {
		defer func() { _ = eng.RemoveContainer(context.Background(), c.ID) }()
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(c.Addresses["bridge"], "8080")
	u := "http://" + addr + "/write?" + url.Values{"path": {"/data/" + name}, "data": {data}}.Encode()
	for {
		resp, err := http.Get(u)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("write into %s: %s %s", vol, resp.Status, body)
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the writer container at %s did not answer: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An external volume is the user's: berth mounts it by its own name,
// keeps it across deploys and rollbacks, never creates, changes or
// removes it, and refuses a deploy when it is missing.
func TestVolumes_ExternalVolumeIsUsedAsItIs(t *testing.T) {
	eng := requireDocker(t)
	ctx := context.Background()
	var b [3]byte
	_, _ = rand.Read(b[:])
	vol := "e2e-ext-" + hex.EncodeToString(b[:])
	// docker volume create, as the user would, before berth knows the app.
	if _, err := eng.Client().VolumeCreate(ctx, volume.CreateOptions{Name: vol}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.RemoveVolume(context.Background(), vol) }) // should the server not start
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	s.removeVolumesAtEnd(t, eng, name, vol)
	writeIntoVolume(t, eng, vol, "upload.txt", "written-before-berth")

	read := func(when string) {
		t.Helper()
		if code, body := get(t, s.addrs.HTTP, host, "/read?path=/data/upload.txt"); code != 200 || body != "written-before-berth" {
			t.Fatalf("%s: the app reads %d %q from the external volume", when, code, body)
		}
	}
	if _, err := s.deploy(t, externalApp(t, name, host, "v1", vol)); err != nil {
		t.Fatal(err)
	}
	read("release 1")
	if _, err := s.deploy(t, externalApp(t, name, host, "v2", vol)); err != nil {
		t.Fatal(err)
	}
	read("release 2")
	if _, err := s.rollback(t, name, 0); err != nil {
		t.Fatal(err)
	}
	read("after the rollback")

	// Listed as external, under its own name; not scoped, not relabelled.
	vols, err := s.client.Volumes(ctx, name, spec.DefaultEnv)
	if err != nil || len(vols) != 1 || vols[0].Name != "uploads" || vols[0].EngineName != vol || !vols[0].External || len(vols[0].UsedBy) != 1 {
		t.Fatalf("volumes: %+v %v", vols, err)
	}
	if _, err := s.client.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := eng.InspectVolume(ctx, vol)
	if err != nil || len(v.Labels) != 0 {
		t.Fatalf("after deploys, a rollback and a prune the external volume is %+v %v", v, err)
	}
	if _, err := eng.InspectVolume(ctx, deploy.VolumeName(name, spec.DefaultEnv, "uploads")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("berth created a scoped volume beside the external one: %v", err)
	}

	// A missing external volume is refused, before anything changes.
	missing := vol + "-missing"
	rels, _ := s.client.Releases(ctx, name, spec.DefaultEnv)
	_, err = s.deploy(t, externalApp(t, name, host, "v3", missing))
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), fmt.Sprintf(`no volume %q exists on this host: create it (docker volume create %s)`, missing, missing)) {
		t.Fatalf("deploy with a missing external volume: %v", err)
	}
	if after, _ := s.client.Releases(ctx, name, spec.DefaultEnv); len(after) != len(rels) {
		t.Errorf("the refused deploy recorded a release: %d releases, %d before", len(after), len(rels))
	}
	if _, err := eng.InspectVolume(ctx, missing); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the missing external volume was created: %v", err)
	}
	read("after the refused deploy")
}
