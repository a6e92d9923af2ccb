package docker

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSyntax(t *testing.T) {
	for _, tc := range []struct {
		df      string
		refused string
	}{
		{"FROM scratch\n", ""},
		{"# syntax=docker/dockerfile:1\nFROM scratch\n", ""},
		{"# syntax=docker/dockerfile:1.7\nFROM scratch\n", ""},
		{"# syntax=docker.io/docker/dockerfile:1.7.1\nFROM scratch\n", ""},
		{"# syntax=docker/dockerfile\nFROM scratch\n", ""},
		{"# syntax=docker/dockerfile:1-labs\nFROM scratch\n", "Dockerfile:1: # syntax=docker/dockerfile:1-labs asks for the Dockerfile frontend image docker/dockerfile:1-labs"},
		{"# syntax=example.com/my/frontend:2\nFROM scratch\n", "frontend image example.com/my/frontend:2"},
		{"# syntax=docker/dockerfile:0.9\nFROM scratch\n", "frontend image docker/dockerfile:0.9"},
	} {
		err := checkSyntax([]byte(tc.df), "Dockerfile")
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%q refused: %v", tc.df, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%q: %v, want %q", tc.df, err, tc.refused)
		}
	}
}

// A context from a client cannot write outside its directory, by name or
// through a link.
func TestExtractContext_StaysInside(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	add(&tar.Header{Name: "app/main.go", Typeflag: tar.TypeReg}, "package main\n")
	add(&tar.Header{Name: "../escape.txt", Typeflag: tar.TypeReg}, "no")
	add(&tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}, "")
	add(&tar.Header{Name: "run.sh", Typeflag: tar.TypeReg, Mode: 0o755}, "#!/bin/sh\n")
	tw.Close()
	// The link is kept as a link (a COPY of it copies the link); a file
	// written through it is refused.
	var bad bytes.Buffer
	tw = tar.NewWriter(&bad)
	_ = tw.WriteHeader(&tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "/tmp"})
	_ = tw.WriteHeader(&tar.Header{Name: "out/pwned.txt", Typeflag: tar.TypeReg, Mode: 0o644})
	tw.Close()

	parent := t.TempDir()
	dir := filepath.Join(parent, "ctx")
	if err := extractContext(&buf, dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "app/main.go")); err != nil || string(b) != "package main\n" {
		t.Errorf("main.go: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(parent, "escape.txt")); err == nil {
		t.Error("../escape.txt was written outside the context")
	}
	if l, err := os.Readlink(filepath.Join(dir, "out")); err != nil || l != "/tmp" {
		t.Errorf("link: %q %v", l, err)
	}
	if err := extractContext(&bad, filepath.Join(parent, "ctx2")); err == nil {
		t.Error("a file written through a link to outside was accepted")
	}
	if _, err := os.Stat("/tmp/pwned.txt"); err == nil {
		t.Error("/tmp/pwned.txt written")
	}
}
