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

func newJobsCmd() *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "jobs APP [--env ENV]",
		Short: "List an app's scheduled jobs (x-berth.jobs) with their next and last runs",
		Long: "List an app's scheduled jobs (x-berth.jobs) with their next and last runs.\n\n" +
			"berth jobs runs APP JOB lists a job's runs, berth jobs logs APP JOB [RUN] shows a run's last output,\n" +
			"berth jobs run APP JOB runs it now.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Job, error) { return c.Jobs(cmd.Context(), args[0], env) }
			return readCmd(cmd, output, fetch, func(w io.Writer, jobs []dto.Job) error {
				if len(jobs) == 0 {
					_, err := fmt.Fprintf(w, "%s/%s has no scheduled jobs: add them under x-berth.jobs\n", args[0], env)
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "JOB\tSERVICE\tSCHEDULE\tNEXT\tLAST RUN\tSTATUS")
				for _, j := range jobs {
					sched := j.Schedule
					if j.Timezone != "" {
						sched += " (" + j.Timezone + ")"
					}
					next := "never"
					if j.Next != nil {
						next = j.Next.Local().Format(time.DateTime)
					}
					last, status := "never", "-"
					if j.Last != nil {
						last = fmt.Sprintf("#%d %s", j.Last.ID, j.Last.StartedAt.Local().Format(time.DateTime))
						status = runStatus(*j.Last)
					}
					if j.Running > 0 {
						status = fmt.Sprintf("%s (%d running)", status, j.Running)
					}
					if j.Skipped > 0 {
						status += fmt.Sprintf("; %d run(s) skipped while one was going (concurrency: forbid)", j.Skipped)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, j.Service, sched, next, last, status)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	outputFlag(cmd, &output)
	cmd.AddCommand(newJobsRunsCmd(), newJobsLogsCmd(), newJobsRunCmd())
	return cmd
}

// runStatus is a run's status in words: with its exit code when it
// exited non-zero.
func runStatus(r dto.JobRun) string {
	switch r.Status {
	case "failed":
		if r.ExitCode >= 0 {
			return fmt.Sprintf("failed (exit %d)", r.ExitCode)
		}
	case "timed_out":
		return "timed out"
	}
	return r.Status
}
