package engine

import (
	"bufio"
	"context"
	"time"
)

// RunOnce starts a container from spec, copies its output line by line to
// out, waits for it to exit and removes it. It returns the exit code. It
// serves one-off commands: release commands, berth run, build tests.
func RunOnce(ctx context.Context, e Engine, spec ContainerSpec, out func(string)) (int, error) {
	c, err := e.CreateContainer(ctx, spec)
	if c.ID != "" {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = e.RemoveContainer(rctx, c.ID)
		}()
	}
	if err != nil {
		return -1, err
	}
	rc, err := e.Logs(ctx, c.ID, LogOptions{Follow: true})
	if err != nil {
		return -1, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out(sc.Text())
	}
	// The log stream ends when the container stops; wait for the engine
	// to report its exit.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ci, err := e.InspectContainer(ctx, c.ID)
		if err != nil {
			return -1, err
		}
		if ci.State == StateExited || ci.State == StateDead {
			if ci.OOMKilled {
				out("(killed: out of memory)")
			}
			return ci.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-tick.C:
		}
	}
}
