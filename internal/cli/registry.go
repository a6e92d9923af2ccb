package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newRegistryCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "Registry credentials for pulling and pushing images (use a robot or deploy token)"}
	var username string
	var passwordStdin bool
	add := &cobra.Command{
		Use:   "add SERVER --username USER --password-stdin",
		Short: "Store credentials for a registry, encrypted at rest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !passwordStdin {
				return errors.New("pass the token on standard input with --password-stdin (it never belongs on a command line)")
			}
			password, err := readStdinSecret(cmd)
			if err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			regs, err := c.AddRegistry(cmd.Context(), args[0], username, password)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored credentials for %s (%d registries known)\n", args[0], len(regs))
			return nil
		},
	}
	add.Flags().StringVarP(&username, "username", "u", "", "user name (a robot or deploy token's name)")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password or token from standard input")
	_ = add.MarkFlagRequired("username")
	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List registries with stored credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Registry, error) { return c.Registries(cmd.Context()) }
			return readCmd(cmd, output, fetch, func(w io.Writer, regs []dto.Registry) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SERVER\tUSERNAME")
				for _, r := range regs {
					fmt.Fprintf(tw, "%s\t%s\n", r.Server, r.Username)
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(add, list)
	return cmd
}

// readStdinSecret reads a secret (a registry token, a secret key) piped
// to the command, without its line ending, at most 64 KiB.
func readStdinSecret(cmd *cobra.Command) (string, error) {
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
