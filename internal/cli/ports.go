package cli

import (
	"fmt"
	"io"

	"github.com/berth-dev/berth/internal/api"
)

// printConnections prints the tally of berth's listeners on published
// ports: connections (UDP flows) served, cut at the drain timeout, and
// taken by no container.
func printConnections(w io.Writer, dep *api.Deployment) {
	fmt.Fprintf(w, "%s connections served during the %s on published ports, %s cut", thousands(dep.Connections), dep.Kind, thousands(dep.ConnectionsCut))
	if dep.ConnectionsFailed > 0 {
		fmt.Fprintf(w, ", %s refused (no container took them)", thousands(dep.ConnectionsFailed))
	}
	fmt.Fprintln(w)
}
