package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newNodesCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List the Swarm cluster's nodes (berth server --engine swarm); drain or activate one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Node, error) { return c.Nodes(cmd.Context()) }
			return readCmd(cmd, output, fetch, func(w io.Writer, ns []dto.Node) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NODE\tROLE\tAVAILABILITY\tSTATE\tENGINE\tADDRESS\tTASKS\tCPU RESERVED\tMEMORY RESERVED")
				for _, n := range ns {
					role := n.Role
					if n.Leader {
						role += " (leader)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.Hostname, role, n.Availability, n.State, n.EngineVersion,
						orDash(n.Addr), n.Tasks, share(float64(n.ReservedCPUs)/1e9, float64(n.NanoCPUs)/1e9, "%.2g"),
						humanBytes(n.ReservedMem)+" / "+humanBytes(n.MemoryBytes))
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output)
	cmd.AddCommand(nodeAvailabilityCmd("drain", "Move every task off NODE (new task started elsewhere before the old one stops), with zero dropped requests", "drain"),
		nodeAvailabilityCmd("activate", "Let NODE take tasks again", "active"),
		nodeAvailabilityCmd("pause", "Keep NODE's tasks but place nothing new on it", "pause"))
	return cmd
}

func share(used, total float64, format string) string {
	return fmt.Sprintf(format+" / "+format, used, total)
}

func nodeAvailabilityCmd(name, short, availability string) *cobra.Command {
	var wait time.Duration
	var output string
	cmd := &cobra.Command{
		Use:   name + " NODE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			if availability == "drain" && output != "json" {
				fmt.Fprintf(cmd.OutOrStdout(), "draining %s: waiting for its tasks to run elsewhere\n", args[0])
			}
			ch, err := c.SetNodeAvailability(cmd.Context(), args[0], availability, wait)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), ch)
			}
			switch availability {
			case "drain":
				fmt.Fprintf(cmd.OutOrStdout(), "drained %s in %s: %d task(s) moved", ch.Node, ch.Took.Round(10*time.Millisecond), len(ch.Moved))
				if len(ch.Moved) > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), " (%s)", strings.Join(ch.Moved, ", "))
				}
				fmt.Fprintln(cmd.OutOrStdout())
			case "active":
				fmt.Fprintf(cmd.OutOrStdout(), "%s takes tasks again (Swarm places new and replaced tasks there; running ones stay where they are)\n", ch.Node)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "%s is paused: its tasks keep running, nothing new is placed there\n", ch.Node)
			}
			return nil
		},
	}
	if availability == "drain" {
		cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the tasks to move")
	}
	outputFlag(cmd, &output)
	return cmd
}
