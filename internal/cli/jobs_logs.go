package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newJobsLogsCmd() *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "logs APP JOB [RUN] [--env ENV]",
		Short: "Show the last output lines of a job's run (default: its latest)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int64
			if len(args) == 3 {
				n, err := strconv.ParseInt(strings.TrimPrefix(args[2], "#"), 10, 64)
				if err != nil || n < 1 {
					return fmt.Errorf("run %q: give a run number (berth jobs runs %s %s lists them)", args[2], args[0], args[1])
				}
				id = n
			}
			fetch := func(c *apiclient.Client) (dto.JobRun, error) {
				return c.JobRun(cmd.Context(), args[0], env, args[1], id)
			}
			return readCmd(cmd, output, fetch, func(w io.Writer, r dto.JobRun) error {
				writeRunSummary(w, args[0], env, r)
				if len(r.Log) == 0 {
					_, err := fmt.Fprintln(w, "(no output)")
					return err
				}
				for _, l := range r.Log {
					fmt.Fprintln(w, "  | "+l)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	outputFlag(cmd, &output)
	return cmd
}

// writeRunSummary writes a run's header: which run, from what, how it
// went.
func writeRunSummary(w io.Writer, app, env string, r dto.JobRun) {
	fmt.Fprintf(w, "job %s of %s/%s, run %d (%s, release %d, container %s)\n", r.Job, app, env, r.ID, r.Trigger, r.Release, r.Container)
	fmt.Fprintf(w, "started %s, %s after %s", r.StartedAt.Local().Format(time.DateTime), runStatus(r), roundMS(r.DurationMS))
	if r.Status == "running" {
		fmt.Fprintf(w, " so far")
	}
	fmt.Fprintln(w)
	if r.Error != "" {
		fmt.Fprintln(w, r.Error)
	}
	if r.Note != "" {
		fmt.Fprintln(w, r.Note)
	}
}
