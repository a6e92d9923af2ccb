package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newServerRestartCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "restart",
		Short: "Restart the server without closing its sockets (as SIGHUP does): a new process from the binary's path takes over",
		Long: "The server waits until no deployment, drain or build is running, starts its binary again\n" +
			"(a new build when the file was replaced: an upgrade), hands it the listening sockets, and\n" +
			"ends once the new process has restored and health-checked every route. No client is refused.\n" +
			"If the new process fails, the old one serves on and its log says why.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			old, err := c.RestartServer(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "berth server %s (pid %d) is handing off…\n", old.Version, old.PID)
			deadline := time.Now().Add(wait)
			for {
				now, err := c.ServerInfo(cmd.Context())
				if err == nil && now.PID == old.PID && now.LastHandoffError != old.LastHandoffError {
					return fmt.Errorf("the hand-off failed and berth server %s (pid %d) serves on: %s", now.Version, now.PID, now.LastHandoffError)
				}
				if err == nil && now.PID != old.PID {
					fmt.Fprintf(cmd.OutOrStdout(), "berth server %s (pid %d) serves, after %s (pid %d)\n", now.Version, now.PID, old.Version, old.PID)
					return nil
				}
				if time.Now().After(deadline) {
					return errors.New("the old server still answers: the hand-off did not happen (yet); its log says why")
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(200 * time.Millisecond):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 3*time.Minute, "how long to wait for the new process to answer")
	return cmd
}

func newServerInfoCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "The serving server process: version, pid, when it started, why its last hand-off failed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(c *apiclient.Client) (dto.ServerInfo, error) { return c.ServerInfo(cmd.Context()) }
			return readCmd(cmd, output, fetch, func(w io.Writer, in dto.ServerInfo) error {
				fmt.Fprintf(w, "berth server %s, pid %d, started %s\n", in.Version, in.PID, when(in.StartedAt, "-"))
				if in.LastHandoffError != "" {
					fmt.Fprintf(w, "last hand-off failed: %s\n", in.LastHandoffError)
				}
				return nil
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
