package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
)

func TestReportOutcome_ConnectionTallyOfPublishedPorts(t *testing.T) {
	for _, tc := range []struct {
		name string
		dep  dto.Deployment
		want string // "" for no connection line
	}{
		{"no listener before", dto.Deployment{}, ""},
		{"listeners served", dto.Deployment{ConnectionsCounted: true, Connections: 8165, ConnectionsCut: 2},
			"8,165 connections served during the deploy on published ports, 2 cut\n"},
		{"some refused", dto.Deployment{ConnectionsCounted: true, Connections: 10, ConnectionsFailed: 3},
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

func TestPrintPublished(t *testing.T) {
	st := dto.EnvStatus{Services: []dto.ServiceStatus{
		{Name: "echo", Published: []dto.PublishedStatus{{Port: "127.0.0.1:7000:7000/tcp", Addr: "127.0.0.1:7000", Served: 1234, Open: 2}, {Port: "7001/udp"}}},
		{Name: "db", Published: []dto.PublishedStatus{{Port: "5432:5432/tcp", Direct: true}}},
	}}
	var b bytes.Buffer
	printPublished(&b, st)
	want := "  echo publishes 127.0.0.1:7000:7000/tcp on 127.0.0.1:7000: 1,234 connections served, 2 open\n" +
		"  echo publishes 7001/udp: NOT BOUND (see the server's log)\n" +
		"  db publishes 5432:5432/tcp on its container (x-berth.publish: direct)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
