package docker

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth-dev/berth/internal/engine"
)

// extractContext unpacks a tar build context into dir (created). The tar
// comes from a client: every path is resolved inside dir through os.Root,
// so neither "../" names nor links can write outside it.
func extractContext(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "/"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		name = filepath.FromSlash(name)
		if err := mkdirParents(root, name); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			err = root.Chmod(name, mode|0o700)
		case tar.TypeReg:
			var f *os.File
			if f, err = root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err == nil {
				err = root.Chmod(name, mode)
			}
		case tar.TypeSymlink:
			err = root.Symlink(hdr.Linkname, name)
		case tar.TypeLink:
			err = root.Link(filepath.FromSlash(path.Clean(hdr.Linkname)), name)
		default:
			continue // devices and fifos have no place in a build context
		}
		if err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
}

// mkdirParents creates name's parent directories inside root.
func mkdirParents(root *os.Root, name string) error {
	dir := filepath.Dir(name)
	if dir == "." {
		return nil
	}
	return root.MkdirAll(dir, 0o755)
}

// dockerfileFor writes the build's Dockerfile into dfDir (the frontend's
// "dockerfile" source) and returns its name there. The Dockerfile is
// o.DockerfileInline, else o.Dockerfile (default "Dockerfile") of the
// context, as rewrite leaves it. A # syntax= directive naming another
// frontend is refused.
func dockerfileFor(ctxDir, dfDir string, o engine.BuildOptions, rewrite func([]byte) ([]byte, error)) (string, error) {
	if err := os.MkdirAll(dfDir, 0o700); err != nil {
		return "", err
	}
	name, content := "Dockerfile", []byte(o.DockerfileInline)
	if o.DockerfileInline == "" {
		if o.Dockerfile != "" {
			name = o.Dockerfile
		}
		root, err := os.OpenRoot(ctxDir)
		if err != nil {
			return "", err
		}
		content, err = root.ReadFile(filepath.FromSlash(name))
		root.Close()
		if err != nil {
			return "", fmt.Errorf("no %s in the build context: create it, or set build.dockerfile to its path", name)
		}
	}
	if err := checkSyntax(content, path.Base(name)); err != nil {
		return "", err
	}
	content, err := rewrite(content)
	if err != nil {
		return "", err
	}
	base := path.Base(filepath.ToSlash(name))
	if err := os.WriteFile(filepath.Join(dfDir, base), content, 0o600); err != nil {
		return "", err
	}
	return base, nil
}

// shippedSyntax matches the # syntax= images berth's built-in Dockerfile
// frontend stands for: docker/dockerfile, stable channel 1 or 1.x(.y).
var shippedSyntax = regexp.MustCompile(`^(docker\.io/)?(docker/dockerfile)(:1(\.[0-9]+){0,2})?$`)

// checkSyntax refuses a # syntax= directive that names a frontend image
// other than the one berth ships: with it the engine would pull and run
// that image, and berth builds with its own frontend.
func checkSyntax(dockerfile []byte, name string) error {
	ref, _, loc, ok := parser.DetectSyntax(dockerfile)
	if !ok {
		return nil
	}
	if shippedSyntax.MatchString(strings.TrimPrefix(ref, "index.")) {
		return nil
	}
	line := 1
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return fmt.Errorf("%s:%d: # syntax=%s asks for the Dockerfile frontend image %s, which berth does not run: berth builds with its own current frontend, the one docker/dockerfile:1 names; write # syntax=docker/dockerfile:1 or remove the line", name, line, ref, ref)
}
