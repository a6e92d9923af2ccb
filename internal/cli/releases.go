package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newReleasesCmd() *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "releases APP [--env ENV]",
		Short: "List an app's releases, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Release, error) { return c.Releases(cmd.Context(), args[0], env) }
			return readCmd(cmd, output, fetch, func(w io.Writer, rels []dto.Release) error {
				if len(rels) == 0 {
					_, err := fmt.Fprintf(w, "%s/%s has no releases\n", args[0], env)
					return err
				}
				return printReleases(w, rels)
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment")
	outputFlag(cmd, &output)
	return cmd
}

func printReleases(w io.Writer, rels []dto.Release) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tSTATUS\tCREATED\tBY\tIMAGES\tREASON")
	for _, r := range rels {
		names := make([]string, 0, len(r.Services))
		for n := range r.Services {
			names = append(names, n)
		}
		sort.Strings(names)
		imgs := make([]string, 0, len(names))
		for _, n := range names {
			si := r.Services[n]
			id := strings.TrimPrefix(si.ImageID, "sha256:")
			if len(id) > 12 {
				id = id[:12]
			}
			imgs = append(imgs, fmt.Sprintf("%s=%s@%s", n, si.Image, id))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, releaseStatus(r), r.CreatedAt.Local().Format(time.DateTime), releaseBy(r),
			strings.Join(imgs, " "), firstLine(r.Reason))
	}
	return tw.Flush()
}

// releaseStatus is a release's status as listed, with a removed marker
// for the releases of a removed environment.
func releaseStatus(r dto.Release) string {
	st := strings.ReplaceAll(string(r.Status), "_", " ")
	if !r.RemovedAt.IsZero() && st != "removed" {
		st += " (removed)"
	}
	return st
}

// releaseBy is who made a release: a token's name, admin-token,
// webhook:github; "-" when unknown (berth itself, or a release older
// than the record).
func releaseBy(r dto.Release) string {
	if r.CreatedBy == "" {
		return "-"
	}
	return r.CreatedBy
}
