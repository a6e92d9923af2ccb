package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
)

func newEnvRemoveCmd() *cobra.Command {
	var f removeFlags
	cmd := &cobra.Command{
		Use:   "remove APP ENV [--volumes [--yes]]",
		Short: "Stop and remove an environment's containers, routes and networks (its volumes with --volumes); its history stays",
		Long: `Remove an app environment, as docker compose down does: its routes leave the
proxy first (open requests drain), then every container stops with its stop
grace and is removed (one-off commands and jobs too; on Swarm its services,
secrets and configs), then its networks. Volumes are kept unless --volumes
is given, which lists them and asks before deleting them (--yes for
scripts); external volumes are never deleted. The releases, deployments
and events stay, marked removed; a later deploy starts afresh, with the
next release number. A deploy in progress refuses the removal.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			app, env := args[0], args[1]
			return runRemove(cmd, &f, app+"/"+env, app, []string{env}, c, func(ctx context.Context, req dto.RemoveRequest, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.RemoveEnv(ctx, app, env, req, p)
			})
		},
	}
	f.register(cmd)
	return cmd
}
