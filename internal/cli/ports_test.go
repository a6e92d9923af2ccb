package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api"
)

func TestReportOutcome_ConnectionTallyOfPublishedPorts(t *testing.T) {
	for _, tc := range []struct {
		name string
		dep  api.Deployment
		want string // "" for no connection line
	}{
		{"no listener before", api.Deployment{}, ""},
		{"listeners served", api.Deployment{ConnectionsCounted: true, Connections: 8165, ConnectionsCut: 2},
			"8,165 connections served during the deploy on published ports, 2 cut\n"},
		{"some refused", api.Deployment{ConnectionsCounted: true, Connections: 10, ConnectionsFailed: 3},
			"10 connections served during the deploy on published ports, 0 cut, 3 refused (no container took them)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep := tc.dep
			dep.App, dep.Env, dep.Kind, dep.ReleaseID = "shop", "production", "deploy", 4
			var b bytes.Buffer
			if err := reportOutcome(&b, &dep, nil); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if tc.want == "" && strings.Contains(out, "connections served") || tc.want != "" && !strings.Contains(out, tc.want) {
				t.Errorf("output:\n%s\nwant %q", out, tc.want)
			}
		})
	}
}
