package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newAppsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "apps", Short: "Manage apps"}
	var req dto.ConnectRequest
	var branches []string
	var keyFile string
	var tokenStdin bool
	connect := &cobra.Command{
		Use:   "connect APP --repo URL [--file compose.yaml] [--branch BRANCH=ENV]...",
		Short: "Link an app to a git repository: pushes to mapped branches build and deploy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, b := range branches {
				br, env, ok := strings.Cut(b, "=")
				if !ok || br == "" || env == "" {
					return fmt.Errorf("--branch %q: want BRANCH=ENV, e.g. master=staging", b)
				}
				if req.Branches == nil {
					req.Branches = map[string]string{}
				}
				req.Branches[br] = env
			}
			if tokenStdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
				if err != nil {
					return err
				}
				req.Token = strings.TrimSpace(string(b))
			}
			if keyFile != "" {
				b, err := os.ReadFile(keyFile)
				if err != nil {
					return fmt.Errorf("--ssh-key: %w", err)
				}
				req.SSHKey = string(b)
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			res, err := c.Connect(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s is connected to %s.\n", args[0], req.Repo)
			fmt.Fprintf(w, "Add a push webhook to the repository:\n  URL:    %s%s\n  Secret: %s\n", c.Addr(), res.WebhookPath, res.Secret)
			fmt.Fprintln(w, "(content type application/json; the secret is shown only now)")
			return nil
		},
	}
	connect.Flags().StringVar(&req.Repo, "repo", "", "repository URL: file://, https:// (with a token) or ssh")
	connect.Flags().StringVar(&req.File, "file", "compose.yaml", "the Compose file's path in the repository")
	connect.Flags().StringArrayVar(&branches, "branch", nil, "BRANCH=ENV: pushes to BRANCH deploy to ENV (default main=production)")
	connect.Flags().StringVar(&keyFile, "ssh-key", "", "private key file for an ssh:// repository (a deploy key; stored encrypted)")
	connect.Flags().BoolVar(&tokenStdin, "token-stdin", false, "read an https access token (TOKEN or USER:TOKEN) from standard input; stored encrypted")
	_ = connect.MarkFlagRequired("repo")
	cmd.AddCommand(connect, newAppsRemoveCmd())
	return cmd
}

func newBuildsCmd() *cobra.Command {
	var output string
	var limit int
	cmd := &cobra.Command{
		Use:   "builds APP",
		Short: "List an app's pipeline builds (git push → build → test → deploy)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(c *apiclient.Client) ([]dto.Build, error) { return c.Builds(cmd.Context(), args[0], limit) }
			return readCmd(cmd, output, fetch, func(w io.Writer, bs []dto.Build) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BUILD\tSTATUS\tBRANCH\tENV\tCOMMIT\tAUTHOR\tCREATED\tDURATION")
				for _, b := range bs {
					dur := "-"
					if !b.EndedAt.IsZero() && !b.StartedAt.IsZero() {
						dur = b.EndedAt.Sub(b.StartedAt).Round(time.Millisecond).String()
					}
					commit := b.Commit
					if len(commit) > 12 {
						commit = commit[:12]
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Status, b.Branch, b.Env, commit, orDash(b.Author), b.CreatedAt.Local().Format(time.DateTime), dur)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many builds")
	outputFlag(cmd, &output)
	var follow bool
	logs := &cobra.Command{
		Use:   "logs ID [-f]",
		Short: "Show a build's log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, c, err := buildClient(args[0])
			if err != nil {
				return err
			}
			return c.BuildLogs(cmd.Context(), id, follow, cmd.OutOrStdout())
		},
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "follow until the build ends")
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running build",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, c, err := buildClient(args[0])
			if err != nil {
				return err
			}
			if err := c.CancelBuild(cmd.Context(), id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "build %d cancelled\n", id)
			return nil
		},
	}
	var env, branch string
	var wait bool
	deployHead := &cobra.Command{
		Use:   "deploy APP [--env ENV] [--branch BRANCH] [-f]",
		Short: "Build and deploy the head of a connected branch (the console's deploy button), as a push would",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			b, err := c.DeployBranch(cmd.Context(), args[0], env, branch)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "build %d queued: the head of %s (%s) of %s, deploying to %s\n", b.ID, b.Branch, shortCommit(b.Commit), args[0], b.Env)
			if !wait {
				fmt.Fprintf(out, "follow it with berth builds logs %d -f\n", b.ID)
				return nil
			}
			if err := c.BuildLogs(cmd.Context(), b.ID, true, out); err != nil {
				return err
			}
			if done, err := c.GetBuild(cmd.Context(), b.ID); err == nil && done.Status != dto.BuildSucceeded {
				return exitError{error: fmt.Errorf("build %d %s: %s", b.ID, done.Status, done.Error), code: 1}
			}
			return nil
		},
	}
	deployHead.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment to deploy to")
	deployHead.Flags().StringVar(&branch, "branch", "", "branch to deploy (default: the one mapped to the environment)")
	deployHead.Flags().BoolVarP(&wait, "follow", "f", false, "follow the build's log until it ends; exit non-zero unless it succeeded")
	cmd.AddCommand(logs, cancel, deployHead)
	return cmd
}

// shortCommit is a commit's first 12 hex digits.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// buildClient parses a build ID argument and returns an API client.
func buildClient(arg string) (int64, *apiclient.Client, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("build id %q is not a number (berth builds APP lists them)", arg)
	}
	c, err := newClient()
	return id, c, err
}
