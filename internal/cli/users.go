package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

// minPasswordLength is the server's rule (it checks too), checked here
// before a round trip.
const minPasswordLength = 12

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Console users with a role (admin, deployer, viewer, ci), scoped to apps and environments",
	}
	var req dto.UserRequest
	var addStdin bool
	add := &cobra.Command{
		Use:   "add NAME --role ROLE [--app APP]… [--env ENV]… [--password-stdin]",
		Short: "Add a user; its password is read from the terminal (twice, not echoed) or standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			pw, err := newPassword(cmd, addStdin)
			if err != nil {
				return err
			}
			req.Password = pw
			c, err := newClient()
			if err != nil {
				return err
			}
			u, err := c.AddUser(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added user %s (role %s, %s); it signs in to the console with its password\n", u.Name, u.Role, scopeText(dto.Token{Apps: u.Apps, Envs: u.Envs}))
			return nil
		},
	}
	add.Flags().StringVar(&req.Role, "role", "", "admin (everything), deployer (deploy and operate its apps), viewer (read its apps), ci (build and deploy its apps)")
	add.Flags().StringArrayVar(&req.Apps, "app", nil, "an app the user may act on (repeat for several; default: every app)")
	add.Flags().StringArrayVar(&req.Envs, "env", nil, "an environment the user may act on (repeat for several; default: every environment)")
	add.Flags().BoolVar(&addStdin, "password-stdin", false, "read the password from the first line of standard input (for scripts)")
	_ = add.MarkFlagRequired("role")

	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List users: role, scope, created, last sign-in and from where",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) ([]dto.User, error) { return c.Users(cmd.Context()) }
			return readCmd(cmd, output, fetch, printUsers)
		},
	}
	outputFlag(list, &output)

	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			ch, err := c.RemoveUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed user %s; %s ended\n", ch.User.Name, plural(ch.SessionsEnded, "session"))
			return nil
		},
	}

	var passwdStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME [--password-stdin]",
		Short: "Set a user's password and end its other sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := newPassword(cmd, passwdStdin)
			if err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			ch, err := c.SetPassword(cmd.Context(), args[0], pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set the password of %s; %s ended\n", ch.User.Name, plural(ch.SessionsEnded, "session"))
			return nil
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from the first line of standard input (for scripts)")
	cmd.AddCommand(add, list, remove, passwd)
	return cmd
}

// newPassword reads a new password: the first line of standard input
// with --password-stdin, else from the terminal without echo, twice.
func newPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	var prompt func() ([]byte, error)
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		prompt = func() ([]byte, error) {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(cmd.ErrOrStderr())
			return b, err
		}
	}
	return readNewPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), fromStdin, prompt)
}

// readNewPassword is newPassword with the terminal's reader given
// (prompt nil: standard input is not a terminal).
func readNewPassword(in io.Reader, errw io.Writer, fromStdin bool, prompt func() ([]byte, error)) (string, error) {
	var pw string
	switch {
	case fromStdin:
		line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw = strings.TrimRight(line, "\r\n")
	case prompt == nil:
		return "", errors.New("standard input is not a terminal: give --password-stdin and pipe the password, e.g. printf '%s\\n' \"$PW\" | berth users add …")
	default:
		fmt.Fprint(errw, "password (not echoed): ")
		a, err := prompt()
		if err != nil {
			return "", err
		}
		fmt.Fprint(errw, "again: ")
		b, err := prompt()
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ: try again")
		}
		pw = string(a)
	}
	if len([]rune(pw)) < minPasswordLength {
		return "", fmt.Errorf("the password is too short: give at least %d characters", minPasswordLength)
	}
	return pw, nil
}

func printUsers(w io.Writer, us []dto.User) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSCOPE\tCREATED\tLAST SIGN-IN\tFROM")
	for _, u := range us {
		from := u.LastSignInFrom
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, scopeText(dto.Token{Apps: u.Apps, Envs: u.Envs}),
			when(u.CreatedAt, "-"), when(u.LastSignInAt, "never"), from)
	}
	return tw.Flush()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
