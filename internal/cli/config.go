package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api"
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
			ch := api.ConfigChange{Set: map[string]string{}}
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
			return changeConfig(cmd, args[0], env, api.ConfigChange{Unset: args[1:]})
		},
	}
	var output string
	list := &cobra.Command{
		Use:   "list APP",
		Short: "List variables (and secret names)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			v, err := c.Config(cmd.Context(), args[0], env)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			keys := make([]string, 0, len(v.Config))
			for k := range v.Config {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\n", k, v.Config[k])
			}
			for _, k := range v.Secrets {
				fmt.Fprintf(tw, "%s\t(secret)\n", k)
			}
			return tw.Flush()
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(set, unset, list)
	return cmd
}

func changeConfig(cmd *cobra.Command, app, env string, ch api.ConfigChange) error {
	c, err := newClient()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	dep, err := c.ChangeConfig(cmd.Context(), app, env, ch, printProgress(out))
	return reportOutcome(out, dep, err)
}
