package engine

import (
	"fmt"
	"path"
)

// File is a file written into a container before it starts: a Compose
// secret (at /run/secrets/NAME or its absolute target) or config (at its
// target). A single-host backend copies it into the created container;
// its bytes never appear in the container's configuration (inspect).
type File struct {
	// Path is the absolute path in the container.
	Path string
	Data []byte
	// UID and GID own the file (0: root).
	UID, GID int
	// Mode is its permission bits (0444 when 0).
	Mode uint32
}

// FileMode returns f's permission bits, 0444 when unset (as Compose).
func (f File) FileMode() uint32 {
	if f.Mode == 0 {
		return 0o444
	}
	return f.Mode & 0o7777
}

// String names the file and its size, never its content.
func (f File) String() string {
	return fmt.Sprintf("%s (%d bytes, %d:%d, %04o)", f.Path, len(f.Data), f.UID, f.GID, f.FileMode())
}

// CheckFiles reports the first file of fs whose path is not an absolute,
// clean path of a file (not "/").
func CheckFiles(fs []File) error {
	seen := map[string]bool{}
	for _, f := range fs {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return fmt.Errorf("file %q: want an absolute, clean path of a file in the container", f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("file %q is given twice", f.Path)
		}
		seen[f.Path] = true
	}
	return nil
}
