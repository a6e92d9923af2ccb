package deploy

import (
	"context"
	"testing"
	"time"
)

// A deployment's request tally means something only when a route of the
// app was live as it began: a first deploy, or an app without hosts, is
// not counted.
func TestDeployer_CountsRequestsOnlyWithALiveRoute(t *testing.T) {
	cf := newClusterFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, err := cf.d.Deploy(ctx, clusterApp("v1"), "production", DeployOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Counted || first.Served != 0 {
		t.Errorf("first deploy: counted %t, served %d; want nothing counted", first.Counted, first.Served)
	}
	second, err := cf.d.Deploy(ctx, clusterApp("v2"), "production", DeployOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Counted {
		t.Errorf("second deploy, with v1 routed: not counted")
	}

	jobs := clusterApp("j1")
	jobs.Name = "jobs"
	jobs.Services[0].Hosts, jobs.Services[0].Port = nil, 0
	for _, v := range []string{"j1", "j2"} {
		jobs.Services[0].Environment["VERSION"] = v
		dep, err := cf.d.Deploy(ctx, jobs, "production", DeployOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if dep.Counted {
			t.Errorf("deploy %s of an app without hosts: counted", v)
		}
	}
}
