package cli

import (
	"fmt"
	"io"

	"github.com/berth-dev/berth/internal/api/dto"
)

// printConnections prints the tally of berth's listeners on published
// ports: connections (UDP flows) served, cut at the drain timeout, and
// taken by no container.
func printConnections(w io.Writer, dep *dto.Deployment) {
	fmt.Fprintf(w, "%s connections served during the %s on published ports, %s cut", thousands(dep.Connections), dep.Kind, thousands(dep.ConnectionsCut))
	if dep.ConnectionsFailed > 0 {
		fmt.Fprintf(w, ", %s refused (no container took them)", thousands(dep.ConnectionsFailed))
	}
	fmt.Fprintln(w)
}

// printPublished lists the published ports of each service under the
// status table.
func printPublished(w io.Writer, st dto.EnvStatus) {
	for _, svc := range st.Services {
		for _, p := range svc.Published {
			switch {
			case p.Direct:
				fmt.Fprintf(w, "  %s publishes %s on its container (x-berth.publish: direct)\n", svc.Name, p.Port)
			case p.Addr == "":
				fmt.Fprintf(w, "  %s publishes %s: NOT BOUND (see the server's log)\n", svc.Name, p.Port)
			default:
				fmt.Fprintf(w, "  %s publishes %s on %s: %s connections served, %d open\n", svc.Name, p.Port, p.Addr, thousands(p.Served), p.Open)
			}
		}
	}
}
