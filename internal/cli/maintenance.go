package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/spec"
)

func newMaintenanceCmd() *cobra.Command {
	var env, pageFile string
	cmd := &cobra.Command{
		Use:   "maintenance on|off APP [--env ENV] [--page FILE]",
		Short: "Answer 503 with Retry-After and a maintenance page while containers and deploys go on behind it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			on := args[0] == "on"
			if !on && args[0] != "off" {
				return fmt.Errorf("say on or off, not %q", args[0])
			}
			page := ""
			if pageFile != "" {
				b, err := os.ReadFile(pageFile)
				if err != nil {
					return fmt.Errorf("--page: %w", err)
				}
				page = string(b)
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			if err := c.SetMaintenance(cmd.Context(), args[1], env, on, page); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s/%s maintenance %s\n", args[1], env, args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().StringVar(&pageFile, "page", "", "HTML file to answer with (default: berth's page)")
	return cmd
}
