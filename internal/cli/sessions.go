package cli

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newSessionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "Console sign-in sessions: list them and end them",
	}
	var output, user string
	list := &cobra.Command{
		Use:   "list [--user NAME]",
		Short: "List sessions: id, user, signed in, last seen, expires, from where",
		Long: "List console sessions; an admin sees every user's. EXPIRES is the latest a session lasts:\n" +
			"it ends sooner after the server's --session-idle without a request.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Session, error) {
				ss, err := c.Sessions(cmd.Context())
				return sessionsOf(ss, user), err
			}
			return readCmd(cmd, output, fetch, printSessions)
		},
	}
	outputFlag(list, &output)
	list.Flags().StringVar(&user, "user", "", "only this user's sessions")

	var revokeUser string
	revoke := &cobra.Command{
		Use:   "revoke ID… | --user NAME",
		Short: "End sessions by id, or every session of a user; refused from their next request on",
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 0) == (revokeUser == "") {
				return errors.New("give session ids (berth sessions list shows them) or --user NAME, not both")
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			ids := args
			if revokeUser != "" {
				ss, err := c.Sessions(cmd.Context())
				if err != nil {
					return err
				}
				for _, s := range sessionsOf(ss, revokeUser) {
					ids = append(ids, s.ID)
				}
			}
			for _, id := range ids {
				s, err := c.RevokeSession(cmd.Context(), id)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ended session %s of %s (from %s)\n", s.ID, holder(s), orDash(s.From))
			}
			if revokeUser != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "%s of %s ended\n", plural(len(ids), "session"), revokeUser)
			}
			return nil
		},
	}
	revoke.Flags().StringVar(&revokeUser, "user", "", "end every session of this user")
	cmd.AddCommand(list, revoke)
	return cmd
}

// sessionsOf keeps the sessions of user ("": all of them).
func sessionsOf(ss []dto.Session, user string) []dto.Session {
	if user == "" {
		return ss
	}
	out := []dto.Session{}
	for _, s := range ss {
		if s.User == user {
			out = append(out, s)
		}
	}
	return out
}

// holder is whose session s is: its user, or "token NAME" for a token's
// sign-in.
func holder(s dto.Session) string {
	if s.User == "" && s.Token != "" {
		return "token " + s.Token
	}
	return s.User
}

func printSessions(w io.Writer, ss []dto.Session) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tSIGNED IN\tLAST SEEN\tEXPIRES\tFROM")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, holder(s), when(s.CreatedAt, "-"), when(s.LastSeenAt, "-"),
			when(s.ExpiresAt, "-"), orDash(s.From))
	}
	return tw.Flush()
}
