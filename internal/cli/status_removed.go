package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

// printRemoved prints a removed environment's one line and reports
// whether st is one.
func printRemoved(w io.Writer, st dto.EnvStatus) bool {
	if st.RemovedAt.IsZero() {
		return false
	}
	fmt.Fprintf(w, "%s/%s: removed %s (%s ago); history: berth releases %s --env %s; a deploy starts it afresh\n",
		st.App, st.Env, st.RemovedAt.Local().Format(time.DateTime), time.Since(st.RemovedAt).Round(time.Second), st.App, st.Env)
	return true
}

// noSuchApp explains why berth status APP lists nothing: the app is
// unknown, or every environment of it was removed.
func noSuchApp(ctx context.Context, c *apiclient.Client, app string, all bool) error {
	if !all {
		if every, err := c.StatusAllWithRemoved(ctx); err == nil {
			for _, st := range every {
				if st.App == app {
					return fmt.Errorf("app %q was removed (berth status --all %s lists it; berth releases %s shows its history)", app, app, app)
				}
			}
		}
	}
	return fmt.Errorf("no app named %q (berth status lists the apps)", app)
}
