package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newEventsCmd() *cobra.Command {
	var env, output string
	var limit int
	cmd := &cobra.Command{
		Use:   "events APP [--env ENV]",
		Short: "Show what happened to an app's containers: crashes, OOM kills, restarts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Event, error) { return c.Events(cmd.Context(), args[0], env, limit) }
			return readCmd(cmd, output, fetch, func(w io.Writer, evs []dto.Event) error {
				if len(evs) == 0 {
					_, err := fmt.Fprintf(w, "no events for %s/%s\n", args[0], env)
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tKIND\tSERVICE\tMESSAGE")
				for _, e := range evs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Kind, e.Service, e.Message)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "how many events, newest first")
	outputFlag(cmd, &output)
	return cmd
}
