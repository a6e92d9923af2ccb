package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "API tokens with a role (admin, deployer, viewer, ci), scoped to apps and environments",
	}
	var req dto.TokenRequest
	var expires string
	create := &cobra.Command{
		Use:   "create NAME --role ROLE [--app APP]… [--env ENV]… [--expires 90d]",
		Short: "Make a token and print it, once (the server keeps only its hash)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if expires != "" {
				d, err := parseExpiry(expires)
				if err != nil {
					return err
				}
				req.ExpiresIn = d.String()
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			nt, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), nt.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s (role %s, %s), expires %s: shown this once, store it now (the server keeps only its hash)\n",
				nt.Info.Name, nt.Info.Role, scopeText(nt.Info), when(nt.Info.ExpiresAt, "never"))
			return nil
		},
	}
	create.Flags().StringVar(&req.Role, "role", "", "admin (everything), deployer (deploy and operate its apps), viewer (read its apps), ci (build and deploy its apps)")
	create.Flags().StringArrayVar(&req.Apps, "app", nil, "an app the token may act on (repeat for several; default: every app)")
	create.Flags().StringArrayVar(&req.Envs, "env", nil, "an environment the token may act on (repeat for several; default: every environment)")
	create.Flags().StringVar(&expires, "expires", "", "validity from now, e.g. 90d, 2w, 12h (default: no expiry)")
	_ = create.MarkFlagRequired("role")

	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens: role, scope, created, expires, last used and from where",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Token, error) { return c.Tokens(cmd.Context()) }
			return readCmd(cmd, output, fetch, func(w io.Writer, ts []dto.Token) error {
				return printTokens(w, ts, time.Now())
			})
		},
	}
	outputFlag(list, &output)

	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: its next request is refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			t, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s at %s; its next request is refused\n", t.Name, when(t.RevokedAt, "-"))
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// parseExpiry reads --expires: a Go duration, or whole days (90d) or
// weeks (2w).
func parseExpiry(s string) (time.Duration, error) {
	bad := fmt.Errorf("--expires %q: give a duration such as 90d, 2w or 12h", s)
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit != 0 {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n <= 0 {
			return 0, bad
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

func printTokens(w io.Writer, ts []dto.Token, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSCOPE\tSTATUS\tCREATED\tEXPIRES\tLAST USED\tFROM")
	for _, t := range ts {
		status := "active"
		switch {
		case !t.RevokedAt.IsZero():
			status = "revoked " + when(t.RevokedAt, "")
		case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
			status = "expired"
		}
		from := t.LastUsedFrom
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, scopeText(t), status,
			when(t.CreatedAt, "-"), when(t.ExpiresAt, "never"), when(t.LastUsedAt, "never"), from)
	}
	return tw.Flush()
}

// scopeText is a token's scope: "apps shop, blog; envs staging".
func scopeText(t dto.Token) string {
	var parts []string
	if len(t.Apps) > 0 {
		parts = append(parts, "apps "+strings.Join(t.Apps, ","))
	}
	if len(t.Envs) > 0 {
		parts = append(parts, "envs "+strings.Join(t.Envs, ","))
	}
	if len(parts) == 0 {
		return "every app"
	}
	return strings.Join(parts, "; ")
}

// when is t in UTC to the minute, or zero when t is zero.
func when(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}
