package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

// readCmd runs a read command: it checks --output, fetches v from the
// API and prints it as JSON or with text.
func readCmd[T any](cmd *cobra.Command, output string, fetch func(*apiclient.Client) (T, error), text func(io.Writer, T) error) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	v, err := fetch(c)
	if err != nil {
		return err
	}
	if output == "json" {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	return text(cmd.OutOrStdout(), v)
}

// streamCmd runs a command that deploys (deploy, rollback, config and
// secret changes, env clone): progress as it happens, then the outcome.
func streamCmd(cmd *cobra.Command, run func(c *apiclient.Client, progress func(dto.Progress)) (*dto.Deployment, error)) error {
	c, err := newClient()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	dep, err := run(c, printProgress(out))
	return reportOutcome(out, dep, err)
}
