package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/volhelper"
)

// newVolumeHelperCmd is what berth's helper image (berth-helper, built
// by the server from its own binary at the first restore) runs inside a
// container beside a volume. It is not for people: hidden from help.
func newVolumeHelperCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "volume-helper replace SOURCE TARGET",
		Short:              "Run inside berth's helper container: replace a volume's contents with a staged copy",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return volhelper.Main(args, cmd.OutOrStdout())
		},
	}
}
