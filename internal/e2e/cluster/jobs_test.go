package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// TestSwarm_JobsRunAsOneOffTasks: on --engine swarm a scheduled job's
// runs are one-off Swarm tasks of the live release's image and
// configuration: the schedule runs it by itself, a run by hand reports
// the command's exit code, and no task is left once the runs ended.
func TestSwarm_JobsRunAsOneOffTasks(t *testing.T) {
	l, img := labShared(t)
	s := startServer(t, l)
	name, host := newName(t)
	removeApp(t, l, name)
	y := fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    environment: { VERSION: swarm-v1 }
    deploy: { replicas: 1 }
    x-berth:
      port: 8080
      hosts: [%s]
      healthcheck: { path: /up, interval: 200ms, timeout: 1s, deadline: 30s }
      jobs:
        - name: hello
          schedule: "@every 3s"
          command: ["env", "VERSION"]
        - name: fail
          schedule: "@yearly"
          command: ["exit", "3"]
`, name, img.Ref, host)
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := deploy(t, s, app); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	ctx := context.Background()
	var hello dto.JobRun
	testutil.Eventually(t, 90*time.Second, "a scheduled run of hello, ended", func() bool {
		runs, err := s.client.JobRuns(ctx, name, "production", "hello", 5)
		if err != nil {
			return false
		}
		for _, r := range runs {
			if r.Trigger == "schedule" && r.Status != "running" {
				hello = r
				return true
			}
		}
		return false
	})
	if hello.Status != "succeeded" || hello.ExitCode != 0 || strings.Join(hello.Log, "") != "swarm-v1" || hello.Release != 1 {
		t.Fatalf("the scheduled run of hello: %+v", hello)
	}

	run, err := s.client.RunJob(ctx, name, "production", "fail")
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	ended, err := s.client.WaitJobRun(wctx, name, "production", "fail", run.ID, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if ended.Status != "failed" || ended.ExitCode != 3 || !strings.Contains(strings.Join(ended.Log, "\n"), "exiting with 3") {
		t.Errorf("the run of fail by hand: %+v", ended)
	}

	dc, err := client.NewClientWithOpts(client.WithHost(l.Hosts[0]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	testutil.Eventually(t, 60*time.Second, "no one-off job service left of a run that ended", func() bool {
		svcs, err := dc.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", "berth.job=fail"), filters.Arg("label", "berth.app="+name))})
		return err == nil && len(svcs) == 0
	})
}
