package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newSecretsCmd() *cobra.Command {
	var env string
	var newApp bool
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage an app's secrets: encrypted at rest, never shown (each change deploys a new release)",
	}
	cmd.PersistentFlags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	set := &cobra.Command{
		Use:   "set APP KEY",
		Short: "Set a secret from standard input and deploy a release with it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := cmd.InOrStdin()
			if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				fmt.Fprintf(cmd.ErrOrStderr(), "value of %s (not echoed): ", args[1])
				b, err := term.ReadPassword(int(f.Fd()))
				fmt.Fprintln(cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				in = strings.NewReader(string(b))
			}
			b, err := io.ReadAll(io.LimitReader(in, 1<<20))
			if err != nil {
				return err
			}
			value := strings.TrimRight(string(b), "\r\n")
			if value == "" {
				return errors.New("empty secret: pipe the value on standard input, e.g. printf %s \"$VALUE\" | berth secrets set APP KEY")
			}
			return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
				if newApp {
					return c.SetSecretOfNewApp(cmd.Context(), args[0], env, args[1], value, p)
				}
				return c.SetSecret(cmd.Context(), args[0], env, args[1], value, p)
			})
		},
	}
	set.Flags().BoolVar(&newApp, "new-app", false, "create the app if it does not exist yet (a secret its first deploy needs); without it an unknown app is refused")
	unset := &cobra.Command{
		Use:   "unset APP KEY",
		Short: "Remove a secret and deploy a release without it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.UnsetSecret(cmd.Context(), args[0], env, args[1], p)
			})
		},
	}
	var output string
	list := &cobra.Command{
		Use:   "list APP",
		Short: "List secret names (values are never shown)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]string, error) {
				v, err := c.Config(cmd.Context(), args[0], env)
				return v.Secrets, err
			}
			return readCmd(cmd, output, fetch, func(w io.Writer, names []string) error {
				for _, n := range names {
					fmt.Fprintln(w, n)
				}
				return nil
			})
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(set, unset, list)
	return cmd
}
