package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
)

func newRestoreCmd() *cobra.Command {
	var env, volume, toEnv string
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore APP BACKUP [--env ENV] [--volume NAME] [--to-env ENV] [--yes]",
		Short: "Restore a backup into its volume, or into another environment's (--to-env) to check it first",
		Long: "Restore backup BACKUP (its number in berth backups, or latest) of APP's environment --env into\n" +
			"its volume, or into the same volume of the environment --to-env names (e.g. staging, to check\n" +
			"it before it replaces production). It asks first (--yes does not), backs up the state it\n" +
			"replaces, stages the backup in a fresh volume, then stops the services that mount the volume,\n" +
			"makes the volume a copy of the staged one and starts them again: a failure before that last\n" +
			"step leaves the volume as it was. A dump (x-berth.backup) is loaded by its restore command.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			app := args[0]
			var id int64
			if args[1] != "latest" {
				n, err := strconv.ParseInt(args[1], 10, 64)
				if err != nil || n < 1 {
					return fmt.Errorf("backup %q: give its number (berth backups %s lists them) or latest", args[1], app)
				}
				id = n
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			into := toEnv
			if into == "" {
				into = env
			}
			what := "the newest backup"
			if id > 0 {
				what = "backup " + args[1]
			}
			if volume != "" {
				what += " of volume " + volume
			}
			if !yes {
				if err := confirm(cmd, fmt.Sprintf("restore %s of %s/%s into %s/%s? Its current data is backed up first; the services that mount the volume stop and start again. Type yes to confirm: ", what, app, env, app, into)); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			res, err := c.Restore(cmd.Context(), app, env, dto.RestoreRequest{Backup: id, Volume: volume, ToEnv: toEnv}, func(line string) { fmt.Fprintln(w, line) })
			if err != nil {
				return err
			}
			if res != nil && res.Previous != nil {
				fmt.Fprintf(w, "to undo: berth restore %s %d --env %s --yes\n", app, res.Previous.ID, res.Env)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "the environment whose backup it is")
	cmd.Flags().StringVar(&volume, "volume", "", "the volume (its name in the Compose file): with latest, whose newest backup; with a number, checked against the backup's")
	cmd.Flags().StringVar(&toEnv, "to-env", "", "restore into this environment's volume instead (e.g. staging)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask (for scripts)")
	return cmd
}

// confirm asks question on the terminal and wants yes.
func confirm(cmd *cobra.Command, question string) error {
	in := cmd.InOrStdin()
	if fh, ok := in.(*os.File); !ok || !term.IsTerminal(int(fh.Fd())) {
		return errors.New("a restore replaces data and needs a confirmation: run it on a terminal to be asked, or add --yes; nothing was restored")
	}
	fmt.Fprint(cmd.ErrOrStderr(), question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "yes" && a != "y" {
		return errors.New("not confirmed: nothing was restored")
	}
	return nil
}
