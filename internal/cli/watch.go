package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newWatchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "watch DEPLOYMENT",
		Short: "Follow a deployment's progress to its outcome (one started elsewhere: the console, CI)",
		Long: "Print a deployment's progress from its first line, as berth deploy does, until it ends;\n" +
			"exit non-zero when it did not go live. A deployment that ended prints its record at once.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("give a deployment number as berth status or the console shows it, got %q", args[0])
			}
			return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.FollowDeployment(cmd.Context(), id, p)
			})
		},
	}
}
