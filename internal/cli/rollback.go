package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newRollbackCmd() *cobra.Command {
	var env, to string
	var opts dto.DeployOptions
	cmd := &cobra.Command{
		Use:   "rollback APP [--env ENV] [--to RELEASE]",
		Short: "Go back to the previous (or a named) good release, with zero downtime",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int64
			if to != "" {
				n, err := strconv.ParseInt(strings.TrimPrefix(to, "r"), 10, 64)
				if err != nil || n <= 0 {
					return fmt.Errorf("--to takes a release number as berth releases shows it, got %q", to)
				}
				id = n
			}
			return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.Rollback(cmd.Context(), args[0], env, id, opts, p)
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().StringVar(&to, "to", "", "release to go back to (default: the previous good one)")
	cmd.Flags().BoolVar(&opts.ReplaceStateful, "replace-stateful", false, "stop and restart stateful services whose definition differs in that release")
	return cmd
}
