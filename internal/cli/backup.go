package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newBackupCmd() *cobra.Command {
	var env, volume string
	cmd := &cobra.Command{
		Use:   "backup APP [--env ENV] [--volume NAME]",
		Short: "Back up an app's named volumes (a dump hook where x-berth.backup sets one, else a snapshot)",
		Long: "Back up an app environment's named volumes, or the one --volume names: by the dump hook of the\n" +
			"service whose x-berth.backup sets one (run in its running container), else by a snapshot of the\n" +
			"volume's files read through a helper container (the service paused for the copy when\n" +
			"x-berth.backup.pause says so). Each backup is a gzip file with a sha256 in the server's backup\n" +
			"directory (or x-berth.backups.destination). berth backups lists them, berth restore restores one.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			_, err = c.Backup(cmd.Context(), args[0], env, dto.BackupRequest{Volume: volume}, func(line string) { fmt.Fprintln(w, line) })
			return err
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().StringVar(&volume, "volume", "", "back up only this volume (its name in the Compose file)")
	return cmd
}

func newBackupsCmd() *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "backups APP [--env ENV]",
		Short: "List an app's backups with their size and age",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Backup, error) { return c.Backups(cmd.Context(), args[0], env) }
			return readCmd(cmd, output, fetch, func(w io.Writer, bs []dto.Backup) error {
				if len(bs) == 0 {
					_, err := fmt.Fprintf(w, "%s/%s has no backups: berth backup %s --env %s makes one\n", args[0], env, args[0], env)
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tVOLUME\tKIND\tRELEASE\tAGE\tSIZE\tSTATUS\tTRIGGER\tFILE")
				for _, b := range bs {
					status := b.Status
					if b.Error != "" {
						status += ": " + b.Error
					}
					kind := b.Kind
					if b.Service != "" {
						kind += " (" + b.Service + ")"
					}
					if b.Paused {
						kind += ", paused"
					}
					size := "-"
					if b.Status == "ok" || b.Status == "deleted" {
						size = humanBytes(b.Size)
					}
					file := b.Key
					if file == "" {
						file = "-"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Volume, kind, b.Release,
						age(time.Duration(b.AgeSeconds)*time.Second), size, status, b.Trigger, file)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	outputFlag(cmd, &output)
	return cmd
}

// age shows a duration as a rounded age: 45s, 12m, 3h, 5d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
