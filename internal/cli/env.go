package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
)

func newEnvCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "env", Short: "Manage an app's environments"}
	var hosts []string
	clone := &cobra.Command{
		Use:   "clone APP FROM TO [--host SERVICE=HOST[,HOST]]",
		Short: "Copy an environment's definition, images and configuration (not its data or secrets) into a new one and deploy it",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := dto.CloneRequest{To: args[2]}
			for _, h := range hosts {
				svc, list, ok := strings.Cut(h, "=")
				if !ok || svc == "" || list == "" {
					return fmt.Errorf("--host %q: want SERVICE=HOST[,HOST]", h)
				}
				if req.Hosts == nil {
					req.Hosts = map[string][]string{}
				}
				req.Hosts[svc] = strings.Split(list, ",")
			}
			return streamCmd(cmd, func(c *apiclient.Client, p func(dto.Progress)) (*dto.Deployment, error) {
				return c.CloneEnv(cmd.Context(), args[0], args[1], req, p)
			})
		},
	}
	clone.Flags().StringArrayVar(&hosts, "host", nil, "host names of a routed service in the new environment (default: TO.<host>)")
	cmd.AddCommand(clone, newEnvRemoveCmd())
	return cmd
}
