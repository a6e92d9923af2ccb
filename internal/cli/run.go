package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/spec"
)

func newRunCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "run APP SERVICE [--env ENV] -- CMD...",
		Short: "Run a one-off command with a service's live image, config, network and volumes",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			code, err := c.Run(cmd.Context(), args[0], env, args[1], args[2:], cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{error: errSilent, code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	return cmd
}
