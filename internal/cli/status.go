package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
)

func newStatusCmd() *cobra.Command {
	var env, output string
	var all bool
	cmd := &cobra.Command{
		Use:   "status [APP] [--all]",
		Short: "Show apps, their live releases and containers",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			var sts []dto.EnvStatus
			switch {
			case len(args) == 1 && env != "":
				st, err := c.Status(cmd.Context(), args[0], env)
				if err != nil {
					return err
				}
				sts = []dto.EnvStatus{st}
			default:
				fetch := c.StatusAll
				if all {
					fetch = c.StatusAllWithRemoved
				}
				every, err := fetch(cmd.Context())
				if err != nil {
					return err
				}
				for _, st := range every {
					if len(args) == 0 || st.App == args[0] {
						sts = append(sts, st)
					}
				}
				if len(args) == 1 && len(sts) == 0 {
					return noSuchApp(cmd.Context(), c, args[0], all)
				}
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), sts)
			}
			printStatus(cmd.OutOrStdout(), sts)
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment (default: all)")
	cmd.Flags().BoolVar(&all, "all", false, "list removed environments too (berth apps remove, berth env remove)")
	outputFlag(cmd, &output)
	return cmd
}

func printStatus(w io.Writer, sts []dto.EnvStatus) {
	if len(sts) == 0 {
		fmt.Fprintln(w, "no apps deployed yet (berth deploy -f compose.yaml)")
		return
	}
	for i, st := range sts {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if printRemoved(w, st) {
			continue
		}
		live := "no live release"
		if st.Live != nil {
			live = fmt.Sprintf("release %d live since %s (%s ago)", st.Live.ID, st.Live.LiveAt.Local().Format(time.DateTime), time.Since(st.Live.LiveAt).Round(time.Second))
		}
		fmt.Fprintf(w, "%s/%s: %s", st.App, st.Env, live)
		if st.Deploying {
			fmt.Fprint(w, ", deploying")
		}
		if st.Maintenance {
			fmt.Fprint(w, ", IN MAINTENANCE (503)")
		}
		fmt.Fprintf(w, "; images of its releases use %s\n", humanBytes(st.ImageBytes))
		printShares(w, st)
		for _, dr := range st.Draining {
			fmt.Fprintf(w, "  draining %s release %s in the background: %d request(s) in flight, cut at %s\n",
				dr.Service, dr.Release, dr.InFlight, dr.Deadline.Local().Format(time.TimeOnly))
		}
		if st.Last != nil {
			fmt.Fprintf(w, "  last %s %d: %s, release %d", st.Last.Kind, st.Last.ID, st.Last.Status, st.Last.ReleaseID)
			if st.Last.Error != "" {
				fmt.Fprintf(w, " (%s)", firstLine(st.Last.Error))
			}
			fmt.Fprintln(w)
		}
		printReplicas(w, st)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERVICE\tCONTAINER\tRELEASE\tSTATE\tHEALTH\tRPS\tERRORS\tADDRESS\tHOSTS")
		for _, svc := range st.Services {
			hosts := strings.Join(svc.Hosts, ",")
			if len(svc.Containers) == 0 {
				fmt.Fprintf(tw, "  %s\t-\t-\tno containers\t-\t-\t-\t-\t%s\n", svc.Name, hosts)
			}
			for _, c := range svc.Containers {
				health := c.Health
				if health == "" {
					health = "-"
				}
				if c.HealthError != "" && c.Health != "healthy" {
					health += " (" + c.HealthError + ")"
				}
				state := c.State
				if c.OOMKilled {
					state += " (OOM-killed)"
				}
				if c.RestartCount > 0 {
					state += fmt.Sprintf(" (%d restarts)", c.RestartCount)
				}
				if c.Leaving {
					state += " (leaving: draining, then stopped)"
				}
				rps, errs := "-", "-"
				if c.Health != "" { // routed: the proxy counts its requests
					rps, errs = fmt.Sprintf("%.1f", c.RPS), fmt.Sprintf("%.1f%%", 100*c.ErrorRate)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", svc.Name, c.Name, c.Release, state, health, rps, errs, orDash(c.Address), hosts)
			}
		}
		tw.Flush()
		printPublished(w, st) // ports.go
	}
}

// printReplicas prints each service's replica count: how many of it
// run against how many it should, and a berth scale that set the count.
func printReplicas(w io.Writer, st dto.EnvStatus) {
	var parts []string
	for _, svc := range st.Services {
		if st.Live == nil {
			break
		}
		if svc.Replicas == 0 && svc.Scale == nil {
			continue // an old release's, not the live one's
		}
		p := fmt.Sprintf("%s %d/%d healthy", svc.Name, svc.Healthy, svc.Replicas)
		if svc.Replacing > 0 {
			p += fmt.Sprintf(", %d replacing", svc.Replacing)
		}
		if svc.Healing != "" {
			p += " (" + svc.Healing + ")"
		}
		if sc := svc.Scale; sc != nil {
			by := ""
			if sc.By != "" {
				by = " by " + sc.By
			}
			p += fmt.Sprintf(" (scaled from %d%s at %s; the file says %d)", sc.From, by, sc.At.Local().Format(time.DateTime), sc.File)
		}
		parts = append(parts, p)
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "  replicas: %s\n", strings.Join(parts, "; "))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
