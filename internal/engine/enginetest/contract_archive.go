package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// Archiver is the part of a one-host engine that backups and restores of
// volumes use (engine/docker has it): a command run in a running
// container, tar streams out of and into a container (its volumes
// included, started or not), and pausing a container.
type Archiver interface {
	Exec(ctx context.Context, id string, cmd []string, out func(string)) (int, error)
	CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error)
	CopyTo(ctx context.Context, id, dir string, r io.Reader) error
	PauseContainer(ctx context.Context, id string) error
	UnpauseContainer(ctx context.Context, id string) error
}

// RunArchive is the contract of an engine's Archiver, against real
// containers of img (from BuildTestImage).
func RunArchive(t *testing.T, e engine.Engine, img TestImage) {
	a, ok := e.(Archiver)
	if !ok {
		t.Fatalf("%T has no Exec, CopyFrom, CopyTo, PauseContainer, UnpauseContainer", e)
	}
	ctx := context.Background()
	var b [3]byte
	_, _ = rand.Read(b[:])
	app := "contract-" + hex.EncodeToString(b[:])
	vol := app + "-data"
	removeVolumeLater(t, e, vol)
	if _, err := e.EnsureVolume(ctx, engine.VolumeSpec{Name: vol, Labels: map[string]string{engine.LabelApp: app}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs, _ := e.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
		for _, c := range cs {
			_ = e.RemoveContainer(context.Background(), c.ID)
		}
	})
	spec := func(name string, noStart bool) engine.ContainerSpec {
		return engine.ContainerSpec{Name: app + "-" + name, Image: img.ID, Labels: map[string]string{engine.LabelApp: app},
			Mounts: []engine.Mount{{Type: "volume", Source: vol, Target: "/data"}}, StopGrace: time.Second, NoStart: noStart}
	}
	run, err := e.CreateContainer(ctx, spec("run", false))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ExecRunsInTheContainer", func(t *testing.T) {
		var lines []string
		code, err := a.Exec(ctx, run.ID, []string{"/testapp", "print", "dumped", "fine"}, func(l string) { lines = append(lines, l) })
		if err != nil || code != 0 || strings.Join(lines, "|") != "dumped fine" {
			t.Fatalf("exec print: code %d, output %q, %v", code, lines, err)
		}
		code, err = a.Exec(ctx, run.ID, []string{"/testapp", "exit", "3"}, nil)
		if err != nil || code != 3 {
			t.Fatalf("exec exit 3: code %d, %v", code, err)
		}
		if _, err := a.Exec(ctx, run.ID, []string{"/no/such/binary"}, nil); err == nil {
			// The engine reports a missing binary as a failed start
			// or as exit code 126/127; either way not a success.
			code, _ := a.Exec(ctx, run.ID, []string{"/no/such/binary"}, nil)
			if code == 0 {
				t.Fatal("exec of a missing binary exited 0")
			}
		}
	})

	t.Run("CopyFromReadsAVolume", func(t *testing.T) {
		var buf bytes.Buffer // written through the running container
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: "note", Mode: 0o644, Size: 11})
		_, _ = tw.Write([]byte("first words"))
		_ = tw.Close()
		if err := a.CopyTo(ctx, run.ID, "/data", &buf); err != nil {
			t.Fatal(err)
		}
		// From a container that never started, as a backup's helper.
		idle, err := e.CreateContainer(ctx, spec("idle", true))
		if err != nil {
			t.Fatal(err)
		}
		files := untar(t, a, idle.ID, "/data")
		if files["data/note"] != "first words" {
			t.Fatalf("copy out of a created container: %v", files)
		}
	})

	t.Run("CopyToWritesAVolume", func(t *testing.T) {
		idle, err := e.CreateContainer(ctx, spec("to", true))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: "restored/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000})
		_ = tw.WriteHeader(&tar.Header{Name: "restored/file", Mode: 0o600, Size: 5, Uid: 1000, Gid: 1000})
		_, _ = tw.Write([]byte("hello"))
		_ = tw.Close()
		if err := a.CopyTo(ctx, idle.ID, "/data", &buf); err != nil {
			t.Fatal(err)
		}
		files := untar(t, a, run.ID, "/data/restored")
		if files["restored/file"] != "hello" {
			t.Fatalf("a running container sees %v, want restored/file", files)
		}
		rc, err := a.CopyFrom(ctx, run.ID, "/data/restored/file")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		h, err := tar.NewReader(rc).Next()
		if err != nil || h.Uid != 1000 || h.Mode&0o777 != 0o600 {
			t.Fatalf("owner and mode not kept: %+v %v", h, err)
		}
		if _, err := a.CopyFrom(ctx, run.ID, "/data/missing"); err == nil {
			t.Fatal("copy of a missing path succeeded")
		}
	})

	t.Run("PauseAndUnpause", func(t *testing.T) {
		if err := a.PauseContainer(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
		c, err := e.InspectContainer(ctx, run.ID)
		if err != nil || c.State != engine.StatePaused {
			t.Fatalf("paused container is %q (%v)", c.State, err)
		}
		for i := 0; i < 2; i++ { // unpausing twice is not an error
			if err := a.UnpauseContainer(ctx, run.ID); err != nil {
				t.Fatalf("unpause (%d): %v", i, err)
			}
		}
		if c, _ := e.InspectContainer(ctx, run.ID); c.State != engine.StateRunning {
			t.Fatalf("unpaused container is %q", c.State)
		}
	})
}

// untar reads path out of container id into name → content.
func untar(t *testing.T, a Archiver, id, path string) map[string]string {
	t.Helper()
	rc, err := a.CopyFrom(context.Background(), id, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}
