package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newPruneCmd() *cobra.Command {
	var output string
	var buildCache bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove images no rollback can target and stopped one-off containers (berth's apps only; also runs daily)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) (dto.PruneReport, error) {
				if buildCache {
					return c.PruneWithBuildCache(cmd.Context())
				}
				return c.Prune(cmd.Context())
			}
			return readCmd(cmd, output, fetch, func(w io.Writer, r dto.PruneReport) error {
				binds := ""
				if len(r.Binds) > 0 {
					binds = fmt.Sprintf(" and %d copies of project files", len(r.Binds))
				}
				_, err := fmt.Fprintf(w, "removed %d image(s)%s and %d container(s), freed %s\n", len(r.Images), binds, len(r.Containers), humanBytes(r.FreedBytes))
				if err == nil && buildCache {
					_, err = fmt.Fprintf(w, "removed the build cache mounts (RUN --mount=type=cache) of every app, freed %s\n", humanBytes(r.BuildCacheBytes))
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&buildCache, "build-cache", false, "also remove the caches builds keep for RUN --mount=type=cache (every app's: the engine cannot tell them apart; the layer cache stays)")
	outputFlag(cmd, &output)
	return cmd
}
