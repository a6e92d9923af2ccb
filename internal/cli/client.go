package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/daemon"
)

// DefaultAddr is the API address the CLI uses without BERTH_ADDR.
const DefaultAddr = "http://127.0.0.1:7070"

// newClient builds an API client from BERTH_ADDR and BERTH_TOKEN, falling
// back to the default data dir's admin-token when it is readable.
func newClient() (*apiclient.Client, error) {
	addr := os.Getenv("BERTH_ADDR")
	if addr == "" {
		addr = DefaultAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	token := os.Getenv("BERTH_TOKEN")
	if token == "" {
		p := filepath.Join(daemon.DefaultDataDir(), daemon.TokenFile)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("no API token: set BERTH_TOKEN to the server's admin token (its DATA_DIR/%s); %s is not readable: %v", daemon.TokenFile, p, err)
		}
		token = strings.TrimSpace(string(b))
	}
	return apiclient.New(addr, token), nil
}

// outputFlag adds --output to a read command.
func outputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "text", "output format: text or json")
}

func checkOutput(out string) error {
	if out != "text" && out != "json" {
		return fmt.Errorf("--output must be text or json, got %q", out)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// exitError carries an exit code.
type exitError struct {
	error
	code int
}

func (e exitError) ExitCode() int { return e.code }
func (e exitError) Unwrap() error { return e.error }
