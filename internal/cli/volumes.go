package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newVolumesCmd() *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "volumes APP [--env ENV]",
		Short: "List an app's named volumes with their sizes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Volume, error) { return c.Volumes(cmd.Context(), args[0], env) }
			return readCmd(cmd, output, fetch, func(w io.Writer, vols []dto.Volume) error {
				if len(vols) == 0 {
					_, err := fmt.Fprintf(w, "%s/%s has no named volumes\n", args[0], env)
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VOLUME\tENGINE NAME\tSIZE\tUSED BY")
				for _, v := range vols {
					engineName := v.EngineName
					if v.External {
						engineName += " (external)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, engineName, humanBytes(v.Size), orDash(strings.Join(v.UsedBy, ",")))
				}
				return tw.Flush()
			})
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
