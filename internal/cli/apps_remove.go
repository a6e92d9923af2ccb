package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
)

func newAppsRemoveCmd() *cobra.Command {
	var f removeFlags
	cmd := &cobra.Command{
		Use:   "remove APP [--volumes [--yes]]",
		Short: "Remove every environment of an app (berth env remove for each); its history stays",
		Long: `Remove every environment of an app, as berth env remove does for one: routes,
containers (with their stop grace), networks, and with --volumes (after a
confirmation naming each, or --yes) its volumes; external volumes are never
deleted. The history stays, marked removed. A deploy in progress of any of
its environments refuses the removal before anything changes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			app := args[0]
			apps, err := c.Apps(cmd.Context())
			if err != nil {
				return err
			}
			var envs []string
			found := false
			for _, a := range apps {
				if a.Name == app {
					envs, found = a.Envs, true
				}
			}
			if !found {
				return fmt.Errorf("no app named %q (berth status lists the apps)", app)
			}
			return runRemove(cmd, &f, fmt.Sprintf("%s (%s)", app, strings.Join(envs, ", ")), app, envs, c, func(ctx context.Context, req dto.RemoveRequest, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.RemoveApp(ctx, app, req, p)
			})
		},
	}
	f.register(cmd)
	return cmd
}
