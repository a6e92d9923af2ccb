package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// Files reach the container before it starts, with their owner and
// mode, in directories the image lacks; nothing of them is in the
// container's configuration.
func TestBackend_CreateContainerCopiesFiles(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	name := uniq("berth-files")
	files := []engine.File{
		{Path: "/run/secrets/db_password", Data: []byte("s3cret-value"), UID: 1000, GID: 1001, Mode: 0o400},
		{Path: "/etc/app/conf.json", Data: []byte(`{"a":1}`)},
		{Path: "/top.conf", Data: []byte("top"), UID: 7, Mode: 0o640},
	}
	c, err := b.CreateContainer(ctx, engine.ContainerSpec{Name: name, Image: img.ID, StopGrace: time.Second, Files: files})
	if c.ID != "" {
		t.Cleanup(func() { _ = b.RemoveContainer(context.Background(), c.ID) })
	}
	if err != nil {
		t.Fatal(err)
	}
	if !c.Running() {
		t.Fatalf("container %s is %s", name, c.State)
	}
	for _, f := range files {
		rc, _, err := b.Client().CopyFromContainer(ctx, c.ID, f.Path)
		if err != nil {
			t.Fatalf("copy %s out: %v", f.Path, err)
		}
		tr := tar.NewReader(rc)
		hdr, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		rc.Close()
		if string(data) != string(f.Data) || hdr.Uid != f.UID || hdr.Gid != f.GID || uint32(hdr.Mode&0o7777) != f.FileMode() {
			t.Errorf("%s: %q owned %d:%d mode %04o, want %q %d:%d %04o", f.Path, data, hdr.Uid, hdr.Gid, hdr.Mode&0o7777, f.Data, f.UID, f.GID, f.FileMode())
		}
	}
	st, err := b.Client().ContainerStatPath(ctx, c.ID, "/run/secrets")
	if err != nil || !st.Mode.IsDir() || st.Mode.Perm() != 0o755 {
		t.Errorf("/run/secrets: %+v %v", st, err)
	}
	ci, err := b.Client().ContainerInspect(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(ci.Config.Env, " "), "s3cret") {
		t.Errorf("the secret is in the container's environment: %v", ci.Config.Env)
	}

	// A file under a path the image has as a file is refused, and the
	// container is not left behind.
	bad := uniq("berth-files-bad")
	_, err = b.CreateContainer(ctx, engine.ContainerSpec{Name: bad, Image: img.ID, Files: []engine.File{{Path: "/testapp/x", Data: []byte("x")}}})
	if err == nil || !strings.Contains(err.Error(), "/testapp is not a directory in the image") {
		t.Fatalf("file under a file: %v", err)
	}
	if _, err := b.InspectContainer(ctx, bad); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the refused container is left: %v", err)
	}
}

// A file under a directory the image has as a symbolic link (/var/run →
// /run, as Debian has) lands where the link points, inside the container.
func TestBackend_CreateContainerFilesThroughASymlink(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dockerfile := "FROM " + base.ID + "\nCOPY rootfs/ /\n"
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeReg, Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))},
		{Typeflag: tar.TypeDir, Name: "rootfs/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "rootfs/run/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "rootfs/var/", Mode: 0o755},
		{Typeflag: tar.TypeSymlink, Name: "rootfs/var/run", Linkname: "/run", Mode: 0o777},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Name == "Dockerfile" {
			tw.Write([]byte(dockerfile))
		}
	}
	tw.Close()
	tag := uniq("berth-files-symlink") + ":test"
	id, err := b.BuildImage(ctx, &buf, engine.BuildOptions{Tags: []string{tag}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.RemoveImage(context.Background(), id) })
	name := uniq("berth-files-link")
	c, err := b.CreateContainer(ctx, engine.ContainerSpec{Name: name, Image: id, StopGrace: time.Second,
		Files: []engine.File{{Path: "/var/run/secrets/token", Data: []byte("through-the-link"), Mode: 0o400}}})
	if c.ID != "" {
		t.Cleanup(func() { _ = b.RemoveContainer(context.Background(), c.ID) })
	}
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := b.Client().CopyFromContainer(ctx, c.ID, "/run/secrets/token")
	if err != nil {
		t.Fatalf("the file is not under /run: %v", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(tr)
	if string(data) != "through-the-link" || hdr.Mode&0o7777 != 0o400 {
		t.Errorf("/run/secrets/token: %q mode %04o", data, hdr.Mode&0o7777)
	}
	if st, err := b.Client().ContainerStatPath(ctx, c.ID, "/var/run"); err != nil || st.Mode&os.ModeSymlink == 0 {
		t.Errorf("/var/run is no longer a link: %+v %v", st, err)
	}
}
