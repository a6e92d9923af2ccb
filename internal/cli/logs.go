package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newLogsCmd() *cobra.Command {
	var env string
	var o apiclient.LogOptions
	cmd := &cobra.Command{
		Use:   "logs APP [SERVICE] [-f]",
		Short: "Show the logs of an app's containers",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				o.Service = args[1]
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			return c.Logs(cmd.Context(), args[0], env, o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep streaming new lines")
	cmd.Flags().IntVarP(&o.Tail, "tail", "n", 100, "lines from the end of each container's log (0: all)")
	cmd.Flags().BoolVarP(&o.Timestamps, "timestamps", "t", false, "prefix lines with their time")
	return cmd
}
