package spec

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The files of project binds: how they are hashed (TreeHash) and sent
// (WriteBindBundle).

// BindPerm is the permission berth gives a copied entry of mode m, as
// git keeps modes: 0755 for a directory or an executable file, else 0644
// (so that the hash does not depend on the sender's umask, and a
// container's non-root user can read the files).
func BindPerm(m fs.FileMode) fs.FileMode {
	if m.IsDir() || m.Perm()&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// TreeHash hashes the file or directory at root as berth stores it:
// every entry's path below root, kind, permission (BindPerm), size and
// content, and a symbolic link's target (links are kept as links, never
// followed). Only regular files, directories and links may be in it.
// The CLI and the server compute it alike, so the server can tell that
// what it received is what was hashed.
func TreeHash(root string) (BindTree, error) {
	h := sha256.New()
	var t BindTree
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		info, err := de.Info()
		if err != nil {
			return err
		}
		var kind byte
		var link string
		switch mode := info.Mode(); {
		case mode.IsRegular():
			kind = 'f'
		case mode.IsDir():
			kind = 'd'
		case mode&fs.ModeSymlink != 0:
			kind = 'l'
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is a %s: berth sends only files, directories and symbolic links", p, describeMode(mode))
		}
		t.Files++
		if t.Files > MaxBindFiles {
			return errTooMany
		}
		size := int64(0)
		if kind == 'f' {
			size = info.Size()
		}
		fmt.Fprintf(h, "%q %c %o %d %q\n", rel, kind, BindPerm(info.Mode()), size, link)
		if kind != 'f' {
			return nil
		}
		t.Bytes += size
		if t.Bytes > MaxBindBytes {
			return errTooBig
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(h, f)
		if err == nil && n != size {
			err = fmt.Errorf("%s changed while it was read: try again", p)
		}
		return err
	})
	if err != nil {
		return t, err
	}
	t.Hash = hex.EncodeToString(h.Sum(nil))
	return t, nil
}

var (
	errTooMany = fmt.Errorf("more than %d files", MaxBindFiles)
	errTooBig  = fmt.Errorf("more than %d MiB", MaxBindBytes>>20)
)

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// BindBundlePrefix is the top directory of a hash's files in a bundle:
// HASH/data is the mount's file or directory.
func BindBundlePrefix(hash string) string { return hash + "/data" }

// WriteBindBundle writes to w a gzip-compressed tar of the files of
// app's project binds whose content hashes want lists (nil: all): for
// each, HASH/data (the file, or the directory and everything under it),
// with the permissions TreeHash hashes (BindPerm). It reads the files where
// Load found them (Mount.Source).
func WriteBindBundle(w io.Writer, app *App, want []string) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, m := range app.ProjectBinds() {
		if want != nil && !containsString(want, m.Content) {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: m.Content + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return err
		}
		root := m.Source
		if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) && m.CreateHostPath {
			if err := tw.WriteHeader(&tar.Header{Name: BindBundlePrefix(m.Content) + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				return err
			}
			continue
		}
		err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			name := BindBundlePrefix(m.Content)
			if rel != "." {
				name += "/" + filepath.ToSlash(rel)
			}
			info, err := de.Info()
			if err != nil {
				return err
			}
			hdr := &tar.Header{Name: name, Mode: int64(BindPerm(info.Mode())), Format: tar.FormatPAX}
			switch mode := info.Mode(); {
			case mode.IsDir():
				hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
				return tw.WriteHeader(hdr)
			case mode&fs.ModeSymlink != 0:
				hdr.Typeflag = tar.TypeSymlink
				if hdr.Linkname, err = os.Readlink(p); err != nil {
					return err
				}
				return tw.WriteHeader(hdr)
			case !mode.IsRegular():
				return fmt.Errorf("%s is a %s: berth sends only files, directories and symbolic links", p, describeMode(mode))
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
				return fmt.Errorf("%s changed while it was sent: deploy again: %w", p, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bind mount %s: %w", m.ShownSource(), err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
