package cli

import (
	"errors"
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

func newScaleCmd() *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "scale APP SERVICE=N [SERVICE=N…] [--env ENV]",
		Short: "Set how many replicas services of the live release run, with zero downtime (no new release)",
		Long: `Scale-out starts the new replicas of the live release and routes each once
it passes its health check; scale-in takes replicas out of rotation at
once, lets their requests finish (up to drain_timeout) and stops them.

On a Swarm cluster (berth server --engine swarm) it changes the Swarm
service's replica count: Swarm places the new tasks by the service's
reservations and placement, and on a scale-in berth drains the tasks
Swarm will remove before it lowers the count.

A scaled count holds across deploys and rollbacks for as long as the
Compose file's deploy.replicas stays what it was when you scaled; a file
that changes deploy.replicas wins, and the scale is forgotten. The rule
is the same on both engines.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			targets, err := parseScaleArgs(args[1:])
			if err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			progressTo := out
			if output == "json" {
				progressTo = cmd.ErrOrStderr() // stdout carries the JSON only
			}
			dep, err := c.Scale(cmd.Context(), args[0], env, targets, printProgress(progressTo))
			if output == "json" && dep != nil {
				if jerr := writeJSON(out, dep); jerr != nil {
					return jerr
				}
			}
			if err != nil {
				var de *apiclient.DeployError
				if errors.As(err, &de) {
					return exitError{error: err, code: 1}
				}
				return err
			}
			if output != "json" && dep != nil {
				printScaled(out, dep)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	outputFlag(cmd, &output)
	return cmd
}

// parseScaleArgs parses SERVICE=N arguments.
func parseScaleArgs(args []string) ([]dto.ScaleTarget, error) {
	var out []dto.ScaleTarget
	seen := map[string]bool{}
	for _, a := range args {
		name, n, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: write SERVICE=N, e.g. web=3", a)
		}
		v, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("%q: the replica count must be a whole number, e.g. %s=3", a, name)
		}
		if v < 0 {
			return nil, fmt.Errorf("%q: give a count of 0 or more", a)
		}
		if seen[name] {
			return nil, fmt.Errorf("service %q is named twice: give it one count", name)
		}
		seen[name] = true
		out = append(out, dto.ScaleTarget{Service: name, Replicas: v})
	}
	return out, nil
}

// printScaled prints a scale's outcome: the request tally and each
// service's new count.
func printScaled(w io.Writer, dep *dto.Deployment) {
	if dep.Counted || dep.Served > 0 || dep.Failed > 0 {
		fmt.Fprintf(w, "served %s requests during the scale, %s failed\n", thousands(dep.Served), thousands(dep.Failed))
	}
	var what []string
	for _, s := range dep.Scaled {
		what = append(what, fmt.Sprintf("%s %d → %d", s.Service, s.From, s.To))
	}
	fmt.Fprintf(w, "scaled %s/%s release %d: %s (%s)\n", dep.App, dep.Env, dep.ReleaseID, strings.Join(what, ", "), dep.EndedAt.Sub(dep.StartedAt).Round(time.Millisecond))
}
