package docker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// The calls backups and restores of volumes make (issue 19), beside
// engine.Engine: a command run in a running container (a dump hook),
// files copied out of and into a container through the engine's archive
// API (tar streams), and a container paused while its volume is copied.
// They are not part of engine.Engine: only the one-host backend has
// them, and deploy asks for them by the interface it declares.

// Exec runs cmd in the running container id, as docker exec does, and
// calls out with each line of its combined output. It returns the
// command's exit code once it ended.
func (b *Backend) Exec(ctx context.Context, id string, cmd []string, out func(string)) (int, error) {
	ex, err := b.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, b.wrap("exec in container "+id, err)
	}
	att, err := b.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return -1, b.wrap("exec in container "+id, err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, att.Reader)
		pw.CloseWithError(err)
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if out != nil {
			out(sc.Text())
		}
	}
	att.Close()
	pr.Close()
	// The stream ends when the command does; the engine may take a moment
	// more to report its exit code.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		in, err := b.cli.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return -1, b.wrap("exec in container "+id, err)
		}
		if !in.Running {
			return in.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-tick.C:
		}
	}
}

// CopyFrom returns a tar stream of path in container id (running or
// not; its volumes included), as docker cp reads it: the entries are
// named under path's last element ("data/…" for "/data").
func (b *Backend) CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error) {
	rc, _, err := b.cli.CopyFromContainer(ctx, id, path)
	if err != nil {
		return nil, b.wrap(fmt.Sprintf("copy %s out of container %s", path, id), err)
	}
	return rc, nil
}

// CopyTo extracts the tar stream r into the directory dir of container
// id (running or not; its volumes included), with the entries' owners
// and modes.
func (b *Backend) CopyTo(ctx context.Context, id, dir string, r io.Reader) error {
	if err := b.cli.CopyToContainer(ctx, id, dir, r, container.CopyToContainerOptions{}); err != nil {
		return b.wrap(fmt.Sprintf("copy into %s of container %s", dir, id), err)
	}
	return nil
}

// PauseContainer freezes every process of container id.
func (b *Backend) PauseContainer(ctx context.Context, id string) error {
	if err := b.cli.ContainerPause(ctx, id); err != nil {
		return b.wrap("pause container "+id, err)
	}
	return nil
}

// UnpauseContainer resumes a paused container; a container that is not
// paused is not an error.
func (b *Backend) UnpauseContainer(ctx context.Context, id string) error {
	if err := b.cli.ContainerUnpause(ctx, id); err != nil && !strings.Contains(err.Error(), "is not paused") {
		return b.wrap("unpause container "+id, err)
	}
	return nil
}
