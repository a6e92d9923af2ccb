package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/spec"
)

func newCanaryCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "canary APP PERCENT [--env ENV]",
		Short: "Move the running canary to another share of clients (1-99%); nothing is deployed",
		Long: "Move the running canary (berth deploy --canary N) to PERCENT of clients, sticky by the berth_canary cookie.\n" +
			"The same containers keep serving; no request is dropped. berth promote gives it every client, berth rollback none.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pct, err := strconv.Atoi(strings.TrimSuffix(args[1], "%"))
			if err != nil || pct < 1 || pct > 99 {
				return fmt.Errorf("PERCENT %q: give a whole percentage from 1 to 99 (berth promote %s gives the canary every client, berth rollback %s none)", args[1], args[0], args[0])
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			mv, err := c.SetCanaryWeight(cmd.Context(), args[0], env, pct)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "canary release %d of %s/%s takes %d%% of clients (was %d%%), release %d the rest\n",
				mv.Release, args[0], env, mv.Weight, mv.From, mv.Live)
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	return cmd
}
