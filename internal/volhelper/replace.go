package volhelper

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Stats count what a copy wrote.
type Stats struct {
	Entries int
	Bytes   int64
}

// Replace makes the contents of the directory dst a copy of those of
// src: everything in dst is removed, then src's tree is copied in, the
// root's mode and owner included. It is idempotent: run again after an
// interruption, it ends with the same dst.
func Replace(src, dst string) (Stats, error) {
	if _, err := os.Stat(src); err != nil {
		return Stats{}, fmt.Errorf("source: %w", err)
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		return Stats{}, fmt.Errorf("target: %w", err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
			return Stats{}, fmt.Errorf("clear target: %w", err)
		}
	}
	st, err := copyTree(src, dst)
	if err != nil {
		return st, err
	}
	syscall.Sync()
	return st, nil
}

type inode struct{ dev, ino uint64 }

// copyTree copies src's tree into dst (which exists).
func copyTree(src, dst string) (Stats, error) {
	var st Stats
	links := map[inode]string{}
	type dirTimes struct {
		path  string
		atime time.Time
		mtime time.Time
	}
	var dirs []dirTimes
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys, _ := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode()
		st.Entries++
		switch {
		case mode.IsDir():
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
		case mode.IsRegular():
			if sys != nil && sys.Nlink > 1 {
				k := inode{uint64(sys.Dev), sys.Ino}
				if first, ok := links[k]; ok {
					return os.Link(first, target)
				}
				links[k] = target
			}
			n, err := copyFile(p, target)
			st.Bytes += n
			if err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(to, target); err != nil {
				return err
			}
			if sys != nil {
				return os.Lchown(target, int(sys.Uid), int(sys.Gid))
			}
			return nil
		case mode&(fs.ModeNamedPipe|fs.ModeDevice|fs.ModeCharDevice) != 0 && sys != nil:
			if err := syscall.Mknod(target, sys.Mode, int(sys.Rdev)); err != nil {
				return err
			}
		default:
			st.Entries-- // a socket: its process made it, and will again
			return nil
		}
		if sys != nil {
			if err := os.Lchown(target, int(sys.Uid), int(sys.Gid)); err != nil {
				return err
			}
		}
		if err := os.Chmod(target, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
		atime := fi.ModTime()
		if sys != nil {
			atime = time.Unix(sys.Atim.Unix())
		}
		if mode.IsDir() { // its entries change its times: set them last
			dirs = append(dirs, dirTimes{target, atime, fi.ModTime()})
			return nil
		}
		return os.Chtimes(target, atime, fi.ModTime())
	})
	if err != nil {
		return st, fmt.Errorf("copy: %w", err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i].path, dirs[i].atime, dirs[i].mtime); err != nil {
			return st, fmt.Errorf("copy: %w", err)
		}
	}
	return st, nil
}

func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// ErrUsage is returned for a command line Main does not know.
var ErrUsage = errors.New("usage: berth volume-helper replace SOURCE TARGET")

// Main runs the helper's command line (the arguments after
// volume-helper), reporting to out.
func Main(args []string, out io.Writer) error {
	if len(args) != 3 || args[0] != "replace" {
		return ErrUsage
	}
	st, err := Replace(args[1], args[2])
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "replaced %s with a copy of %s: %d entries, %d bytes\n", args[2], args[1], st.Entries, st.Bytes)
	return err
}
