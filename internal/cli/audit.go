package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newAuditCmd() *cobra.Command {
	var f apiclient.AuditFilter
	var since, output string
	cmd := &cobra.Command{
		Use:   "audit [--app APP] [--actor NAME] [--since 24h|RFC3339] [--limit N]",
		Short: "Who did what: the audit log of changes and refusals, newest first (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				f.Since = t
			}
			fetch := func(c *apiclient.Client) ([]dto.AuditEntry, error) { return c.Audit(cmd.Context(), f) }
			return readCmd(cmd, output, fetch, printAudit)
		},
	}
	cmd.Flags().StringVar(&f.App, "app", "", "only the entries about this app")
	cmd.Flags().StringVar(&f.Actor, "actor", "", "only the entries of this actor: a token's name, admin-token, webhook:github")
	cmd.Flags().StringVar(&since, "since", "", "only entries since then: a duration back from now (24h, 7d) or a time (2026-03-01T12:00:00Z)")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "at most this many entries (0: all)")
	outputFlag(cmd, &output)
	return cmd
}

// parseSince reads --since: an RFC 3339 time, or a duration (24h, 7d,
// 2w) back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseExpiry(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: give a duration such as 24h or 7d, or a time such as 2026-03-01T12:00:00Z", s)
	}
	return now.Add(-d), nil
}

func printAudit(w io.Writer, es []dto.AuditEntry) error {
	if len(es) == 0 {
		_, err := fmt.Fprintln(w, "no audit entries")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tFROM\tACTION\tAPP/ENV\tOUTCOME\tDEPLOYMENT\tDETAILS")
	for _, e := range es {
		actor := e.Actor
		if actor == "" {
			actor = "(unknown)"
		}
		where := e.App
		if e.Env != "" {
			where += "/" + e.Env
		}
		outcome := e.Outcome
		if e.Status != 0 {
			outcome += " " + strconv.Itoa(e.Status)
		}
		depl := "-"
		if e.Deployment != 0 {
			depl = strconv.FormatInt(e.Deployment, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", when(e.Time, "-"), actor, dash(e.Source), e.Action,
			dash(where), outcome, depl, auditDetails(e))
	}
	return tw.Flush()
}

// auditDetails is an entry's parameters (k=v, sorted), its build and its
// error's first line.
func auditDetails(e dto.AuditEntry) string {
	keys := make([]string, 0, len(e.Params))
	for k := range e.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+2)
	for _, k := range keys {
		parts = append(parts, k+"="+e.Params[k])
	}
	if e.Build != 0 {
		parts = append(parts, "build="+strconv.FormatInt(e.Build, 10))
	}
	if e.Error != "" {
		parts = append(parts, "error: "+firstLine(e.Error))
	}
	return dash(strings.Join(parts, " "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
