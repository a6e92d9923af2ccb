package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newPruneCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove images no rollback can target and stopped one-off containers (berth's apps only; also runs daily)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) (api.PruneReport, error) { return c.Prune(cmd.Context()) }
			return readCmd(cmd, output, fetch, func(w io.Writer, r api.PruneReport) error {
				binds := ""
				if len(r.Binds) > 0 {
					binds = fmt.Sprintf(" and %d copies of project files", len(r.Binds))
				}
				_, err := fmt.Fprintf(w, "removed %d image(s)%s and %d container(s), freed %s\n", len(r.Images), binds, len(r.Containers), humanBytes(r.FreedBytes))
				return err
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
