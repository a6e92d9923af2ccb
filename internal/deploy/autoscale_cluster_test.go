package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

func TestDeployer_ClusterAutoscaleRefusesCPU(t *testing.T) {
	cf := newClusterFixture(t)
	app := clusterApp("v1")
	app.Services[0].Autoscale = &spec.Autoscale{Min: 1, Max: 4, TargetCPU: 0.6, ScaleOutWindow: spec.Duration(15 * time.Second), ScaleInCooldown: spec.Duration(time.Minute), ScaleInStep: 0.5}
	_, err := cf.deploy(t, app, DeployOptions{})
	if err == nil || !strings.Contains(err.Error(), "target.cpu is not available on a Swarm cluster") || !strings.Contains(err.Error(), "target.rps") {
		t.Fatalf("deploy of target.cpu on a cluster: %v; want a refusal that says what to use", err)
	}
	app.Services[0].Autoscale = &spec.Autoscale{Min: 1, Max: 4, TargetRPS: 100, ScaleOutWindow: spec.Duration(15 * time.Second), ScaleInCooldown: spec.Duration(time.Minute), ScaleInStep: 0.5}
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	svcs, err := cf.d.Autoscaled(context.Background())
	if err != nil || len(svcs) != 1 || svcs[0].Service != "web" || svcs[0].Replicas != 2 {
		t.Fatalf("Autoscaled on a cluster = %+v, %v; want web at 2", svcs, err)
	}
}
