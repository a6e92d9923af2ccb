package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newPromoteCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "promote APP [--env ENV]",
		Short: "Make the running canary the live release (100% of clients), with zero downtime",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.Promote(cmd.Context(), args[0], env, p)
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	return cmd
}

// printShares prints who gets which share of clients while a canary runs:
// "release 7 live 90%", "release 8 canary 10%".
func printShares(w io.Writer, st dto.EnvStatus) {
	if st.Canary == nil {
		return
	}
	for _, sh := range st.Shares {
		fmt.Fprintf(w, "  release %d %s %d%%", sh.Release, sh.Role, sh.Percent)
		if sh.Role == "canary" {
			fmt.Fprintf(w, " (weight %d%%, sticky by the berth_canary cookie, since %s)", st.Canary.Weight, st.Canary.StartedAt.Local().Format(time.DateTime))
		}
		fmt.Fprintln(w)
	}
	if !st.Canary.Healthy && st.Canary.Unhealthy != "" {
		fmt.Fprintf(w, "  CANARY UNHEALTHY: %s\n", st.Canary.Unhealthy)
	}
}
