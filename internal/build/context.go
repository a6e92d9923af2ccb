package build

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// epoch is the modification time of every entry of a build context.
var epoch = time.Unix(0, 0).UTC()

// Context returns dir as a tar build context, the form the Docker Engine
// API takes, with the Dockerfile at dockerfile (relative to dir; default
// "Dockerfile").
//
// Files that dir/.dockerignore excludes are left out, with Docker's
// semantics (see ignorePatterns); the Dockerfile and .dockerignore are
// always sent, as the docker CLI does, because the engine needs them.
// The stream is deterministic: entries in lexical order, times zeroed,
// owners root with no names, so identical content gives identical bytes.
// Symbolic links are kept as links; sockets are left out.
//
// The tar is written by a goroutine as the caller reads: the caller must
// read to the end or Close the reader. A walk error is returned by Read.
func Context(dir, dockerfile string) (io.ReadCloser, error) {
	return streamContext(prepare(dir, dockerfile, true))
}

// streamContext streams a prepared context.
func streamContext(root, df string, pm *matcher, err error) (io.ReadCloser, error) {
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, root, df, pm)) }()
	return pr, nil
}

// ContentHash is the hex SHA-256 of the build context Context(dir,
// dockerfile) streams: the same filtered content, names, modes and links
// give the same hash, whatever the file times and owners. It tags images
// built outside git (Tag(app, service, hash[:12])).
func ContentHash(dir, dockerfile string) (string, error) {
	return hashContext(prepare(dir, dockerfile, true))
}

// hashContext hashes a prepared context.
func hashContext(root, df string, pm *matcher, err error) (string, error) {
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if err := writeTar(h, root, df, pm); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// prepare resolves the context directory, checks the Dockerfile is in it
// (unless !needDockerfile: the build has its Dockerfile inline) and reads
// .dockerignore.
func prepare(dir, dockerfile string, needDockerfile bool) (string, string, *matcher, error) {
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root) // walk the directory, not a link to it
	}
	if err != nil {
		return "", "", nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return "", "", nil, fmt.Errorf("build context %s is not a directory", dir)
	}
	df, err := dockerfilePath(root, dockerfile)
	if err != nil {
		return "", "", nil, err
	}
	if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(df))); needDockerfile && (err != nil || fi.IsDir()) {
		return "", "", nil, fmt.Errorf("no %s in the build context %s: create it, or set build.dockerfile to its path", df, dir)
	}
	pm, err := ignorePatterns(root, df)
	if err != nil {
		return "", "", nil, err
	}
	return root, df, pm, nil
}

// dockerfilePath is dockerfile relative to root, slash-separated.
func dockerfilePath(root, dockerfile string) (string, error) {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	p := dockerfile
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	} else if r, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(r, filepath.Base(p))
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("dockerfile %s is outside the build context %s: move it into the context directory", dockerfile, root)
	}
	return filepath.ToSlash(rel), nil
}

// writeTar writes root's context to w.
func writeTar(w io.Writer, root, dockerfile string, pm *matcher) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip, err := pm.excluded(rel, d.IsDir()); skip || err != nil {
			return err
		}
		if d.IsDir() && !pm.included(rel) {
			return nil // excluded, but an exception may bring back something under it
		}
		return addEntry(tw, path, rel, d)
	})
	if err != nil {
		return fmt.Errorf("build context %s: %w", root, err)
	}
	return tw.Close()
}

// addEntry writes one file, directory or link with a normalised header.
func addEntry(tw *tar.Writer, path, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	mode := info.Mode()
	if mode&fs.ModeSocket != 0 {
		return nil // cannot be archived; Docker leaves them out too
	}
	link := ""
	if mode&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	hdr.Name = rel
	if d.IsDir() {
		hdr.Name += "/"
	}
	hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.PAXRecords = nil
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if !mode.IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed size while the build context was being read", rel)
	}
	return err
}
