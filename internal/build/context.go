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
	"regexp"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context returns dir as a tar build context, the form the Docker Engine
// API takes: files excluded by dir/.dockerignore are left out (with
// Docker's pattern semantics: `!` exceptions, `**`, comments), except the
// Dockerfile and .dockerignore themselves, which the engine needs. The
// stream is deterministic (lexical order, zero times and owners), so the
// same content always gives the same bytes.
func Context(dir, dockerfile string) (io.ReadCloser, error) {
	pm, err := ignorePatterns(dir)
	if err != nil {
		return nil, err
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if _, err := os.Stat(filepath.Join(dir, dockerfile)); err != nil {
		return nil, fmt.Errorf("no %s in the build context %s: %w", dockerfile, dir, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, dir, filepath.ToSlash(dockerfile), pm)) }()
	return pr, nil
}

// ContentHash is the SHA-256 of dir's build context: it tags images built
// outside git, or from a tree with uncommitted changes.
func ContentHash(dir, dockerfile string) (string, error) {
	rc, err := Context(dir, dockerfile)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var (
	tagUnsafe = regexp.MustCompile(`[^a-z0-9._-]+`)
	revUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// Tag is the image reference berth gives a service it builds:
// <app>-<service>:<revision>, lowercased and stripped to what Docker
// accepts.
func Tag(app, service, revision string) string {
	repo := tagUnsafe.ReplaceAllString(strings.ToLower(app+"-"+service), "-")
	rev := revUnsafe.ReplaceAllString(revision, "-")
	if rev == "" || strings.HasPrefix(rev, ".") || strings.HasPrefix(rev, "-") {
		rev = "r" + rev
	}
	if len(rev) > 128 {
		rev = rev[:128]
	}
	return strings.Trim(repo, "-._") + ":" + rev
}

func ignorePatterns(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s/.dockerignore: %w", dir, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s/.dockerignore: %w", dir, err)
	}
	return pm, nil
}

func writeTar(w io.Writer, dir, dockerfile string, pm *patternmatcher.PatternMatcher) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if pm != nil && rel != dockerfile && rel != ".dockerignore" {
			excluded, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if excluded {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir // nothing under it can come back
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
