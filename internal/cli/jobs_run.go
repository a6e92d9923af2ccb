package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/spec"
)

// jobPoll is how often berth jobs run asks how the run is going.
const jobPoll = 250 * time.Millisecond

func newJobsRunCmd() *cobra.Command {
	var env, output string
	var detach bool
	cmd := &cobra.Command{
		Use:   "run APP JOB [--env ENV] [--detach]",
		Short: "Run a scheduled job now, from the live release, and wait for its outcome",
		Long: "Run a scheduled job now, in a one-off container of the live release (as berth run builds one),\n" +
			"and wait for it to end: its last output lines are shown and berth exits with its exit code.\n" +
			"The run belongs to the server: interrupting this command does not stop it (--detach does not wait).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			app, job := args[0], args[1]
			run, err := c.RunJob(cmd.Context(), app, env, job)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "text" {
				fmt.Fprintf(out, "started run %d of job %s of %s/%s (release %d)\n", run.ID, job, app, env, run.Release)
			}
			if detach {
				if output == "json" {
					return writeJSON(out, run)
				}
				fmt.Fprintf(out, "berth jobs logs %s %s %d --env %s shows how it went\n", app, job, run.ID, env)
				return nil
			}
			run, err = c.WaitJobRun(cmd.Context(), app, env, job, run.ID, jobPoll)
			if err != nil {
				return fmt.Errorf("follow run %d of job %s: %w (it goes on on the server: berth jobs logs %s %s %d)", run.ID, job, err, app, job, run.ID)
			}
			if output == "json" {
				if err := writeJSON(out, run); err != nil {
					return err
				}
			} else {
				writeRunSummary(out, app, env, run)
				for _, l := range run.Log {
					fmt.Fprintln(out, "  | "+l)
				}
			}
			if run.Status == "succeeded" {
				return nil
			}
			code := run.ExitCode
			if code <= 0 {
				code = 1
			}
			if output == "json" {
				return exitError{error: errSilent, code: code}
			}
			return exitError{error: fmt.Errorf("run %d of job %s %s", run.ID, job, runStatus(run)), code: code}
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "start the run and return without waiting for it")
	outputFlag(cmd, &output)
	return cmd
}
