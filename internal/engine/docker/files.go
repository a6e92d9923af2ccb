package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/berth-dev/berth/internal/engine"
)

// copyFiles writes s.Files (Compose secrets and configs) into the created,
// not yet started container id, as docker compose does for the secrets
// and configs it cannot bind-mount: one tar through the engine's archive
// API, each file with its owner and mode. Directories the image lacks
// (/run/secrets in most images) are created owned by root, mode 0755;
// directories the image has are left as they are. The files live in the
// container's writable layer and go with the container; nothing of them
// is in its configuration.
func (b *Backend) copyFiles(ctx context.Context, id string, s engine.ContainerSpec) error {
	if len(s.Files) == 0 {
		return nil
	}
	if err := engine.CheckFiles(s.Files); err != nil {
		return err
	}
	files := slices.Clone(s.Files)
	slices.SortFunc(files, func(a, b engine.File) int { return strings.Compare(a.Path, b.Path) })
	exists := map[string]bool{"/": true}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, f := range files {
		var missing []string
		for dir := path.Dir(f.Path); ; dir = path.Dir(dir) {
			have, known := exists[dir]
			if !known {
				st, err := b.cli.ContainerStatPath(ctx, id, dir)
				switch {
				case err == nil && !st.Mode.IsDir() && st.Mode&os.ModeSymlink == 0:
					return fmt.Errorf("file %s: %s is not a directory in the image", f.Path, dir)
				// A symbolic link (/var/run → /run) is followed inside
				// the container's root when the engine extracts the tar.
				case err == nil:
					have = true
				case isNotFound(err):
				default:
					return b.wrap("stat "+dir+" in container "+s.Name, err)
				}
			}
			if have {
				break
			}
			missing = append(missing, dir)
		}
		for _, dir := range slices.Backward(missing) {
			exists[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(dir, "/") + "/", Mode: 0o755, ModTime: now}); err != nil {
				return err
			}
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Path, "/"), Size: int64(len(f.Data)),
			Mode: int64(f.FileMode()), Uid: f.UID, Gid: f.GID, ModTime: now,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := b.cli.CopyToContainer(ctx, id, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		return b.wrap(fmt.Sprintf("copy %d secret and config file(s) into container %s", len(files), s.Name), err)
	}
	return nil
}
