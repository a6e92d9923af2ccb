package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newRedeployCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "redeploy APP [--env ENV]",
		Short: "Deploy the live release again (same images, current configuration), with zero downtime",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.Redeploy(cmd.Context(), args[0], env, p)
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	return cmd
}
