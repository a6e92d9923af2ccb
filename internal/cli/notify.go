package cli

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newNotifyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "notify", Short: "Tell Slack or a webhook about builds, deploys and rollbacks"}
	change := func(cmd *cobra.Command, app string, f func([]dto.NotifyTarget) []dto.NotifyTarget) error {
		c, err := newClient()
		if err != nil {
			return err
		}
		ts, err := c.Notifications(cmd.Context(), app)
		if err != nil {
			return err
		}
		ts = f(ts)
		if err := c.SetNotifications(cmd.Context(), app, ts); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s notifies %d target(s)\n", app, len(ts))
		return nil
	}
	add := &cobra.Command{
		Use:   "add APP slack|webhook URL",
		Short: "Send an app's events to a Slack incoming webhook or a JSON webhook",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return change(cmd, args[0], func(ts []dto.NotifyTarget) []dto.NotifyTarget {
				return append(ts, dto.NotifyTarget{Kind: args[1], URL: args[2]})
			})
		},
	}
	remove := &cobra.Command{
		Use:   "remove APP URL",
		Short: "Stop sending an app's events to URL",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return change(cmd, args[0], func(ts []dto.NotifyTarget) []dto.NotifyTarget {
				return slices.DeleteFunc(ts, func(t dto.NotifyTarget) bool { return t.URL == args[1] })
			})
		},
	}
	var output string
	list := &cobra.Command{
		Use:   "list APP",
		Short: "List where an app's events go",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.NotifyTarget, error) { return c.Notifications(cmd.Context(), args[0]) }
			return readCmd(cmd, output, fetch, func(w io.Writer, ts []dto.NotifyTarget) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KIND\tURL")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\n", t.Kind, t.URL)
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(add, remove, list)
	return cmd
}
