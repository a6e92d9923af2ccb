package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

// What berth apps remove and berth env remove share (apps_remove.go,
// env_remove.go): the volume confirmation, progress and the outcome.

// removeFlags are the flags of both removal commands.
type removeFlags struct {
	volumes bool
	yes     bool
	output  string
}

func (f *removeFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.volumes, "volumes", false, "also delete the volumes berth created for it, and their data (after a confirmation naming each; external volumes are never deleted)")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask: confirm deleting the volumes (for scripts)")
	outputFlag(cmd, &f.output)
}

// runRemove confirms the volumes of app's envs when --volumes asks for
// them, then runs the removal with progress, and prints the outcome
// (what names what went).
func runRemove(cmd *cobra.Command, f *removeFlags, what, app string, envs []string, c *apiclient.Client,
	remove func(ctx context.Context, req dto.RemoveRequest, progress func(dto.Progress)) (*dto.Deployment, error)) error {
	if err := checkOutput(f.output); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	progressTo := out
	if f.output == "json" {
		progressTo = cmd.ErrOrStderr() // stdout carries the JSON only
	}
	var req dto.RemoveRequest
	if f.volumes {
		names, err := confirmVolumes(cmd, f, c, app, envs)
		if err != nil {
			return err
		}
		req.Volumes = names
	}
	dep, err := remove(cmd.Context(), req, printProgress(progressTo))
	if f.output == "json" && dep != nil {
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
	if f.output != "json" && dep != nil {
		fmt.Fprintf(out, "%s removed (%s); its releases and deployments stay listed: berth releases %s; a deploy starts it afresh\n",
			what, dep.EndedAt.Sub(dep.StartedAt).Round(time.Millisecond), app)
	}
	return nil
}

// confirmVolumes lists the volumes of app's envs that --volumes would
// delete, names the external ones it keeps, asks (unless --yes), and
// returns the engine names confirmed.
func confirmVolumes(cmd *cobra.Command, f *removeFlags, c *apiclient.Client, app string, envs []string) ([]string, error) {
	w := cmd.ErrOrStderr()
	var names, lines, external []string
	for _, env := range envs {
		vols, err := c.Volumes(cmd.Context(), app, env)
		if err != nil {
			return nil, fmt.Errorf("list the volumes of %s/%s: %w", app, env, err)
		}
		for _, v := range vols {
			if v.External {
				external = append(external, fmt.Sprintf("%s (%s/%s %s)", v.EngineName, app, env, v.Name))
				continue
			}
			names = append(names, v.EngineName)
			size := ""
			if v.Size >= 0 {
				size = ", " + humanBytes(v.Size)
			}
			lines = append(lines, fmt.Sprintf("  %s (%s/%s %s%s)", v.EngineName, app, env, v.Name, size))
		}
	}
	if len(external) > 0 {
		fmt.Fprintf(w, "external volumes are never deleted, these stay: %s\n", strings.Join(external, ", "))
	}
	if len(names) == 0 {
		fmt.Fprintln(w, "no volumes of berth's to delete")
		return nil, nil
	}
	fmt.Fprintf(w, "--volumes deletes these volumes and all their data:\n%s\n", strings.Join(lines, "\n"))
	if f.yes {
		return names, nil
	}
	in := cmd.InOrStdin()
	if fh, ok := in.(*os.File); !ok || !term.IsTerminal(int(fh.Fd())) {
		return nil, errors.New("--volumes deletes data and needs a confirmation: run it on a terminal to be asked, or add --yes; nothing was removed")
	}
	fmt.Fprint(w, "delete them? type yes to confirm: ")
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "yes" && a != "y" {
		return nil, errors.New("not confirmed: nothing was removed (without --volumes the volumes are kept)")
	}
	return names, nil
}
