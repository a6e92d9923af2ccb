package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

// checkAndSendBinds asks the server, before anything is built, whether
// it accepts app's bind mounts (every refusal at once), and sends the
// files of its project binds (mounts relative to the Compose file) that
// the server does not have yet. It says once how those are mounted.
func checkAndSendBinds(ctx context.Context, out io.Writer, c *apiclient.Client, app *spec.App, env string) error {
	chk, err := c.Check(ctx, app, env)
	if apiclient.IsStatus(err, http.StatusNotFound) && strings.Contains(err.Error(), "no API route") {
		return nil // an older server: it checks when the deploy arrives
	}
	if err != nil {
		sep := "; "
		if strings.Contains(err.Error(), "\n") {
			sep = "\n" // after a list, on a line of its own
		}
		return exitError{error: fmt.Errorf("%w%snothing was built or deployed", err, sep), code: 1}
	}
	if s := app.BindSummary(); s != "" {
		fmt.Fprintln(out, s)
	}
	if len(chk.MissingBinds) == 0 {
		return nil
	}
	var bytes int64
	for _, m := range app.ProjectBinds() {
		for _, h := range chk.MissingBinds {
			if h == m.Content {
				if t, err := spec.TreeHash(m.Source); err == nil {
					bytes += t.Bytes
				}
			}
		}
	}
	fmt.Fprintf(out, "sending the files of %d bind mount source(s) of the project (%d bytes)\n", len(chk.MissingBinds), bytes)
	if err := c.SendBinds(ctx, app, env, chk.MissingBinds); err != nil {
		return exitError{error: fmt.Errorf("send the project's bind files: %w; nothing was built or deployed", err), code: 1}
	}
	return nil
}
