package cli

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

func newDeployCmd() *cobra.Command {
	var files []string
	var env, appName string
	var opts dto.DeployOptions
	cmd := &cobra.Command{
		Use:   "deploy -f FILE [-f OVERRIDE] [--env ENV] [--app NAME]",
		Short: "Deploy an app from a Compose file, with zero downtime",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("name the Compose file with -f (e.g. berth deploy -f compose.yaml)")
			}
			if appName != "" {
				if err := spec.CheckAppName(appName); err != nil {
					return fmt.Errorf("--app: %w", err)
				}
			}
			shell := shellEnv()
			name, err := spec.ResolveName(spec.LoadOptions{Files: files, Name: appName, Environ: shell})
			if err != nil {
				return err
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			environ, err := interpolationEnv(cmd, c, name.Name, env, shell)
			if err != nil {
				return err
			}
			// The name is settled: the server's configuration, fetched by
			// it, cannot rename the app through COMPOSE_PROJECT_NAME.
			app, err := spec.Load(cmd.Context(), spec.LoadOptions{Files: files, Environ: environ, Name: name.Name})
			if err != nil {
				return err
			}
			app = app.ForEnv(env)
			out := cmd.OutOrStdout()
			printNameSource(out, name, files[0])
			for _, w := range app.Warnings {
				fmt.Fprintf(out, "warning: %s\n", w)
			}
			for _, n := range app.Notes {
				fmt.Fprintf(out, "note: %s\n", n)
			}
			if err := checkAndSendBinds(cmd.Context(), out, c, app, env); err != nil {
				return err
			}
			if err := buildServices(cmd.Context(), out, c, app); err != nil {
				return exitError{error: fmt.Errorf("%w; nothing was deployed", err), code: 1}
			}
			fmt.Fprintf(out, "deploying %s to %s from %v\n", app.Name, env, files)
			dep, err := c.Deploy(cmd.Context(), app, env, opts, printProgress(out))
			return reportOutcome(out, dep, err)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "Compose file (repeat for overrides, applied in order)")
	cmd.Flags().StringVarP(&appName, "app", "p", "", "the app's name, as docker compose -p (default: $COMPOSE_PROJECT_NAME, else the file's top-level name:, else the Compose file's directory)")
	cmd.Flags().StringVar(&env, "env", spec.DefaultEnv, "environment to deploy to")
	cmd.Flags().BoolVar(&opts.ReplaceStateful, "replace-stateful", false, "stop and restart stateful services whose definition changed (volumes are kept)")
	cmd.Flags().IntVar(&opts.Canary, "canary", 0, "deploy as a canary beside the live release, taking this percentage of clients (1-99, sticky by the berth_canary cookie) until berth promote or berth rollback")
	return cmd
}

// printNameSource says where the app's name came from when the Compose
// file does not say it, so that a derived name is never a surprise.
func printNameSource(w io.Writer, n spec.ResolvedName, file string) {
	switch n.Source {
	case spec.NameFromDir:
		fmt.Fprintf(w, "app name %q, from the directory %q (a top-level name: in %s or --app NAME sets another)\n", n.Name, filepath.Base(n.Dir), filepath.Base(file))
	case spec.NameFromEnv:
		fmt.Fprintf(w, "app name %q, from COMPOSE_PROJECT_NAME\n", n.Name)
	}
}

// shellEnv is the process environment as a map.
func shellEnv() map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// interpolationEnv is what ${VAR} in the Compose files expands to: the
// environment's configuration on the server (berth config), overridden
// by variables exported in this shell, as docker compose reads them.
func interpolationEnv(cmd *cobra.Command, c *apiclient.Client, app, env string, shell map[string]string) (map[string]string, error) {
	out := map[string]string{}
	v, err := c.Config(cmd.Context(), app, env)
	switch {
	case err == nil:
		maps.Copy(out, v.Config)
	case apiclient.IsStatus(err, http.StatusNotFound):
		// a new app: no configuration yet
	default:
		return nil, err
	}
	maps.Copy(out, shell)
	return out, nil
}

func printProgress(w io.Writer) func(dto.Progress) {
	return func(p dto.Progress) {
		fmt.Fprintf(w, "%7.2fs  %s\n", p.Elapsed.Seconds(), p.Message)
	}
}

// reportOutcome prints the deployment's request tally, when there was
// live traffic to count, and turns a failed deployment into a non-zero
// exit.
func reportOutcome(w io.Writer, dep *dto.Deployment, err error) error {
	if dep != nil && (dep.Counted || dep.Served > 0 || dep.Failed > 0) {
		fmt.Fprintf(w, "served %s requests during the %s, %s failed\n", thousands(dep.Served), dep.Kind, thousands(dep.Failed))
	}
	if dep != nil && (dep.ConnectionsCounted || dep.Connections > 0 || dep.ConnectionsCut > 0) {
		printConnections(w, dep)
	}
	if err != nil {
		if _, ok := err.(*apiclient.DeployError); ok {
			return exitError{error: err, code: 1}
		}
		return err
	}
	if dep != nil && dep.Kind == dto.KindCanary {
		fmt.Fprintf(w, "release %d of %s/%s is a canary (%s): berth promote %s --env %s makes it live, berth rollback %s --env %s removes it\n",
			dep.ReleaseID, dep.App, dep.Env, dep.EndedAt.Sub(dep.StartedAt).Round(time.Millisecond), dep.App, dep.Env, dep.App, dep.Env)
	} else if dep != nil {
		fmt.Fprintf(w, "release %d of %s/%s is live (%s)\n", dep.ReleaseID, dep.App, dep.Env, dep.EndedAt.Sub(dep.StartedAt).Round(time.Millisecond))
	}
	return nil
}

// thousands formats n with comma separators: 48211 → "48,211".
func thousands(n uint64) string {
	s := fmt.Sprint(n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
