package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newRunCmd() *cobra.Command {
	var env string
	var noTTY bool
	cmd := &cobra.Command{
		Use:   "run APP SERVICE [--env ENV] -- CMD...",
		Short: "Run a one-off command with a service's live image, config, network and volumes",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			var code int
			if f, ok := terminal(cmd); ok && !noTTY {
				code, err = runTTY(cmd, c, f, args[0], env, args[1], args[2:])
			} else {
				code, err = c.Run(cmd.Context(), args[0], env, args[1], args[2:], cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{error: errSilent, code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().BoolVarP(&noTTY, "no-tty", "T", false, "do not give the command a terminal even when this is one")
	return cmd
}

// terminal returns stdin as a file when both stdin and stdout are
// terminals.
func terminal(cmd *cobra.Command) (*os.File, bool) {
	in, ok1 := cmd.InOrStdin().(*os.File)
	out, ok2 := cmd.OutOrStdout().(*os.File)
	if !ok1 || !ok2 || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return nil, false
	}
	return in, true
}

// runTTY runs the command on a terminal: raw mode here, window size
// changes passed on, the terminal restored at the end.
func runTTY(cmd *cobra.Command, c *apiclient.Client, in *os.File, app, env, service string, args []string) (int, error) {
	fd := int(in.Fd())
	cols, rows, _ := term.GetSize(fd)
	old, err := term.MakeRaw(fd)
	if err != nil {
		return -1, err
	}
	defer term.Restore(fd, old)
	resize := make(chan [2]uint16, 4)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			if w, h, err := term.GetSize(fd); err == nil {
				select {
				case resize <- [2]uint16{uint16(h), uint16(w)}:
				default:
				}
			}
		}
	}()
	return c.RunTTY(cmd.Context(), app, env, service, args, uint16(rows), uint16(cols), in, cmd.OutOrStdout(), resize)
}
