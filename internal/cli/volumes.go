package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/spec"
)

func newVolumesCmd() *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "volumes APP [--env ENV]",
		Short: "List an app's named volumes with their sizes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			vols, err := c.Volumes(cmd.Context(), args[0], env)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), vols)
			}
			if len(vols) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s/%s has no named volumes\n", args[0], env)
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VOLUME\tENGINE NAME\tSIZE\tUSED BY")
			for _, v := range vols {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, v.EngineName, humanBytes(v.Size), orDash(strings.Join(v.UsedBy, ",")))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	outputFlag(cmd, &output)
	return cmd
}

// humanBytes formats a size: 1536 → "1.5 KiB"; negative → "unknown".
func humanBytes(n int64) string {
	if n < 0 {
		return "unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
