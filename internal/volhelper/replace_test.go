package volhelper

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func write(t *testing.T, p, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestReplace_TargetBecomesACopy(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "a.txt"), "alpha", 0o640)
	write(t, filepath.Join(src, "sub", "deep", "b.bin"), "beta", 0o600)
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a.txt"), filepath.Join(src, "hard")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "sub"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o751); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dst, "stale"), "old data", 0o644)
	write(t, filepath.Join(dst, "a.txt"), "old alpha", 0o644)

	for i := 0; i < 2; i++ { // idempotent: a second run ends the same
		st, err := Replace(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		if st.Entries != 7 || st.Bytes != 9 {
			t.Errorf("run %d: stats %+v, want 7 entries (root, a.txt, hard, link, sub, deep, b.bin) and 9 bytes", i, st)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "stale")); !os.IsNotExist(err) {
		t.Errorf("stale file left: %v", err)
	}
	for p, want := range map[string]string{"a.txt": "alpha", "sub/deep/b.bin": "beta", "hard": "alpha"} {
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", p, b, err, want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dst, "a.txt")); fi == nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("a.txt mode: %v", fi)
	}
	if fi, _ := os.Stat(dst); fi == nil || fi.Mode().Perm() != 0o751 {
		t.Errorf("root mode: %v", fi)
	}
	if to, err := os.Readlink(filepath.Join(dst, "link")); err != nil || to != "a.txt" {
		t.Errorf("symlink: %q %v", to, err)
	}
	a, _ := os.Stat(filepath.Join(dst, "a.txt"))
	h, _ := os.Stat(filepath.Join(dst, "hard"))
	if a == nil || h == nil || a.Sys().(*syscall.Stat_t).Ino != h.Sys().(*syscall.Stat_t).Ino {
		t.Error("hard link copied as two files")
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub")); fi == nil || !fi.ModTime().Equal(old) {
		t.Errorf("directory time not kept: %v", fi)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "a.txt")); string(b) != "alpha" {
		t.Error("source changed")
	}
}

func TestReplace_MissingSourceTouchesNothing(t *testing.T) {
	t.Parallel()
	dst := t.TempDir()
	write(t, filepath.Join(dst, "keep"), "data", 0o644)
	if _, err := Replace(filepath.Join(t.TempDir(), "missing"), dst); err == nil {
		t.Fatal("a missing source replaced the target")
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "keep")); string(b) != "data" {
		t.Error("target cleared for a missing source")
	}
}

func TestHelperMain_RefusesUnknownCommands(t *testing.T) {
	t.Parallel()
	if err := Main([]string{"copy", "a"}, os.Stdout); err != ErrUsage {
		t.Fatalf("bad usage: %v", err)
	}
}
