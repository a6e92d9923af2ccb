package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newConfigCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show and change an app's configuration variables (each change deploys a new release)",
	}
	cmd.PersistentFlags().StringVar(&env, "env", spec.DefaultEnv, "environment")

	set := &cobra.Command{
		Use:   "set APP KEY=VALUE...",
		Short: "Set variables and deploy a release with them",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := dto.ConfigChange{Set: map[string]string{}}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("%q is not KEY=VALUE", kv)
				}
				ch.Set[k] = v
			}
			return changeConfig(cmd, args[0], env, ch)
		},
	}
	unset := &cobra.Command{
		Use:   "unset APP KEY...",
		Short: "Remove variables and deploy a release without them",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeConfig(cmd, args[0], env, dto.ConfigChange{Unset: args[1:]})
		},
	}
	var output string
	list := &cobra.Command{
		Use:   "list APP",
		Short: "List variables (and secret names)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) (dto.ConfigView, error) { return c.Config(cmd.Context(), args[0], env) }
			return readCmd(cmd, output, fetch, func(w io.Writer, v dto.ConfigView) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				for _, k := range slices.Sorted(maps.Keys(v.Config)) {
					fmt.Fprintf(tw, "%s\t%s\n", k, v.Config[k])
				}
				for _, k := range v.Secrets {
					fmt.Fprintf(tw, "%s\t(secret)\n", k)
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(set, unset, list)
	return cmd
}

func changeConfig(cmd *cobra.Command, app, env string, ch dto.ConfigChange) error {
	return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
		return c.ChangeConfig(cmd.Context(), app, env, ch, p)
	})
}
