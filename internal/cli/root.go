// Package cli holds berth's cobra commands, one file per subcommand.
// `server` runs the daemon; every other command is a client of the API.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cli.Version=…".
var Version = "dev"

// Main runs berth with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(stderr, "berth: "+err.Error())
		}
		if ec, ok := err.(exitCoder); ok {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

type exitCoder interface{ ExitCode() int }

// errSilent ends the process with an exit code and no message (berth run
// passes on its command's exit code).
var errSilent = errors.New("exit")

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Deploy containerised web services with zero dropped requests",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServerCmd(),
		newDeployCmd(),
		newRollbackCmd(),
		newRedeployCmd(),
		newWatchCmd(),
		newPromoteCmd(),
		newCanaryCmd(),
		newScaleCmd(),
		newStatusCmd(),
		newReleasesCmd(),
		newLogsCmd(),
		newConfigCmd(),
		newSecretsCmd(),
		newRunCmd(),
		newVolumesCmd(),
		newEnvCmd(),
		newEventsCmd(),
		newJobsCmd(),
		newBackupCmd(),
		newBackupsCmd(),
		newRestoreCmd(),
		newBackupDestinationCmd(),
		newPruneCmd(),
		newRegistryCmd(),
		newAppsCmd(),
		newBuildsCmd(),
		newNotifyCmd(),
		newMaintenanceCmd(),
		newNodesCmd(),
		newTokensCmd(),
		newUsersCmd(),
		newSessionsCmd(),
		newAuditCmd(),
		newVolumeHelperCmd(),
	)
	return root
}
