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

func newJobsRunsCmd() *cobra.Command {
	var env, output string
	var limit int
	cmd := &cobra.Command{
		Use:   "runs APP JOB [--env ENV]",
		Short: "List a scheduled job's runs, newest first",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.JobRun, error) {
				return c.JobRuns(cmd.Context(), args[0], env, args[1], limit)
			}
			return readCmd(cmd, output, fetch, func(w io.Writer, runs []dto.JobRun) error {
				if len(runs) == 0 {
					_, err := fmt.Fprintf(w, "job %s of %s/%s has not run yet (berth jobs run %s %s runs it now)\n", args[1], args[0], env, args[0], args[1])
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RUN\tRELEASE\tTRIGGER\tSTARTED\tDURATION\tSTATUS\tNOTE")
				for _, r := range runs {
					note := r.Error
					if r.Note != "" {
						note = joinNonEmpty(note, r.Note)
					}
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Release, r.Trigger, r.StartedAt.Local().Format(time.DateTime),
						roundMS(r.DurationMS), runStatus(r), note)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many runs, newest first (0: all kept)")
	outputFlag(cmd, &output)
	return cmd
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// roundMS shows a duration in milliseconds as a short duration.
func roundMS(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.String()
}
